// Which RuntimeClass marks a peer pod. Our variable is TARGET_RUNTIME_CLASS; upstream's webhook
// reads TARGET_RUNTIMECLASS, and peer-pods-cm style configurations name it RUNTIMECLASS_NAME.
// All three are honoured so an upstream deployment keeps its class. Precedence: the
// -target-runtime-class flag, then TARGET_RUNTIME_CLASS, TARGET_RUNTIMECLASS, RUNTIMECLASS_NAME;
// but two variables naming different classes stop start-up, since picking one would leave the
// other class's pods unmutated (reserving CPU and memory on the worker) without a word.
import { ConfigError, InvalidConfigError } from "../config/index.ts";

export const RUNTIME_CLASS_VARIABLES = ["TARGET_RUNTIME_CLASS", "TARGET_RUNTIMECLASS", "RUNTIMECLASS_NAME"] as const;

// A RuntimeClass name is a DNS-1123 subdomain.
const SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/**
 * The environment with TARGET_RUNTIME_CLASS filled in from upstream's names when it is unset.
 * Throws naming the variables when they disagree or the name cannot be a RuntimeClass.
 */
export function withRuntimeClassName(
  env: Readonly<Record<string, string | undefined>>,
): Readonly<Record<string, string | undefined>> {
  const set = RUNTIME_CLASS_VARIABLES.map((variable) => ({ variable, value: (env[variable] ?? "").trim() })).filter(
    (s) => s.value !== "",
  );
  const first = set[0];
  if (first === undefined) return env;
  const problems: ConfigError[] = [];
  const disagreeing = set.filter((s) => s.value !== first.value);
  if (disagreeing.length > 0) {
    const all = set.map((s) => `${s.variable}=${JSON.stringify(s.value)}`).join(", ");
    problems.push(
      new ConfigError({
        variable: disagreeing[0]!.variable,
        value: disagreeing[0]!.value,
        expected: `the same RuntimeClass as the other runtime class variables, or unset (${all})`,
        source: "env",
      }),
    );
  }
  for (const s of set) {
    if (!SUBDOMAIN.test(s.value))
      problems.push(
        new ConfigError({
          variable: s.variable,
          value: s.value,
          expected: "a RuntimeClass name (lower-case DNS subdomain, e.g. kata-remote)",
          source: "env",
        }),
      );
  }
  if (problems.length > 0) throw new InvalidConfigError(problems);
  return { ...env, TARGET_RUNTIME_CLASS: first.value };
}
