// What a process is, taken from the OCI process of CreateContainer or ExecProcess. The minimal
// agent runs only args, env and cwd; everything else of the spec (user, capabilities, rlimits,
// namespaces) is the real agent's business.

import type { Process } from "../gen/oci_pb.js";
import { Code, TtrpcError } from "../ttrpc/index.ts";

export interface ProcessSpec {
  readonly args: readonly string[];
  /** "NAME=value" entries, as in the OCI spec. */
  readonly env: readonly string[];
  /** Absolute working directory. */
  readonly cwd: string;
}

/** Validates an OCI process for this agent; `what` names it in errors. */
export function processSpecFromOci(process: Process | undefined, what: string): ProcessSpec {
  if (process === undefined) throw new TtrpcError(Code.INVALID_ARGUMENT, `${what}: the OCI spec has no process`);
  if (process.Terminal) {
    throw new TtrpcError(
      Code.INVALID_ARGUMENT,
      `${what}: a terminal was requested; this agent runs processes with pipes only (terminal must be false)`,
    );
  }
  if (process.Args.length === 0 || process.Args[0] === "")
    throw new TtrpcError(Code.INVALID_ARGUMENT, `${what}: the process has no args`);
  const cwd = process.Cwd === "" ? "/" : process.Cwd;
  if (!cwd.startsWith("/"))
    throw new TtrpcError(Code.INVALID_ARGUMENT, `${what}: cwd ${JSON.stringify(cwd)} is not absolute`);
  return { args: [...process.Args], env: [...process.Env], cwd };
}

/** The spec's env entries as an environment object; a later entry wins over an earlier one. */
export function environmentOf(env: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of env) {
    const eq = entry.indexOf("=");
    // An entry without "=" names nothing to set; the OCI runtimes skip it too.
    if (eq <= 0) continue;
    out[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return out;
}
