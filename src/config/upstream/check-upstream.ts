// Reads the environment for upstream settings this daemon does not implement: each one set to
// anything but upstream's default gives one finding, a warning that says what happens instead,
// or an error where running without it would be less secure than the operator asked for.

import { type UpstreamSetting, upstreamSettingsFor } from "./upstream-settings.ts";

export interface UpstreamFinding {
  readonly level: "warn" | "error";
  readonly variable: string;
  /** One line naming the variable, its value and what the daemon does (or why it refuses). */
  readonly message: string;
}

export interface UpstreamCheckOptions {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly provider: string;
  /** DISABLE_TLS / -disable-tls: the explicit development mode some refusals give way to. */
  readonly developmentMode: boolean;
}

// Go's strconv.ParseBool.
const GO_TRUE: ReadonlySet<string> = new Set(["1", "t", "T", "TRUE", "true", "True"]);
const GO_FALSE: ReadonlySet<string> = new Set(["0", "f", "F", "FALSE", "false", "False"]);

/** Findings for every unimplemented upstream setting that is set to a non-default value. */
export function checkUpstreamSettings(options: UpstreamCheckOptions): UpstreamFinding[] {
  const findings: UpstreamFinding[] = [];
  for (const setting of upstreamSettingsFor(options.provider)) {
    const { handling } = setting;
    if (handling.kind === "honoured") continue;
    const value = options.env[setting.env]?.trim() ?? "";
    if (value === "" || isUpstreamDefault(setting, value)) continue;
    const shown = `${setting.env}=${JSON.stringify(value)}`;
    if (handling.kind === "warned") {
      findings.push({
        level: "warn",
        variable: setting.env,
        message: `${shown}: upstream setting not supported; ${handling.instead}`,
      });
    } else if (handling.developmentOnly === true && options.developmentMode) {
      findings.push({
        level: "warn",
        variable: setting.env,
        message: `${shown}: ignored, DISABLE_TLS=true already turns TLS off (development mode)`,
      });
    } else {
      findings.push({ level: "error", variable: setting.env, message: `${shown}: refused: ${handling.reason}` });
    }
  }
  return findings;
}

/** Whether `value` means what upstream's default means. */
export function isUpstreamDefault(setting: UpstreamSetting, value: string): boolean {
  if (setting.bool === true) {
    const want = GO_TRUE.has(setting.upstreamDefault);
    if (GO_TRUE.has(value)) return want;
    if (GO_FALSE.has(value)) return !want;
    return false;
  }
  return value === setting.upstreamDefault || (setting.alsoDefault ?? []).includes(value);
}
