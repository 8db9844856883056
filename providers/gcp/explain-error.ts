// Turns what a Compute Engine call threw into an error an operator can act on: which IAM
// permission is missing, which variable names a resource that does not exist, whether quota or
// capacity is the cause, and whether trying again later can help.
import { ProviderError } from "../provider.ts";
import {
  capacityReason,
  describeFailure,
  gceFailure,
  isNotFound,
  isPermissionDenied,
  isQuota,
  isTransient,
} from "./gce-error.ts";
import { DeadlineError } from "./retry.ts";

/** Names the setting behind a resource path, e.g. PODVM_IMAGE_NAME=podvm-v1. */
export interface SettingHint {
  readonly variable: string;
  readonly value: string;
}

export interface CallHints {
  readonly image?: SettingHint;
  readonly network?: SettingHint;
  readonly subnetwork?: SettingHint;
  readonly machineType?: SettingHint;
  readonly diskType?: SettingHint;
  readonly zone?: SettingHint;
  readonly project?: SettingHint;
}

/** Which hint a "not found" or "invalid" message's resource path points at. */
const RESOURCE_PATTERNS: ReadonlyArray<readonly [RegExp, keyof CallHints]> = [
  [/\/global\/images\//, "image"],
  [/\/global\/networks\//, "network"],
  [/\/subnetworks\//, "subnetwork"],
  [/\/machineTypes\//, "machineType"],
  [/\/diskTypes\//, "diskType"],
  [/projects\/[^/'"]+\/zones\/[^/'"]+['"]/, "zone"],
  [/projects\/[^/'"]+['"]/, "project"],
];

/**
 * Explains a failed `what` (e.g. "creating instance podvm-x"). `auth` names the credential;
 * `hints` name the settings the call used.
 */
export function explainGceError(err: unknown, what: string, auth: string, hints: CallHints = {}): ProviderError {
  if (err instanceof ProviderError) return err;
  if (err instanceof DeadlineError) {
    const last =
      err.cause instanceof Error && !(err.cause instanceof DOMException)
        ? `; last failure: ${describeFailure(gceFailure(err.cause))}`
        : "";
    return new ProviderError(`deadline reached while ${what}${last}`, { retryable: true, cause: err });
  }
  const f = gceFailure(err);
  const fail = (text: string, retryable: boolean) => new ProviderError(text, { retryable, cause: err });
  if (f.token !== undefined)
    return fail(`GCP sign-in failed while ${what}: ${f.token.message} (check GCP_CREDENTIALS)`, f.token.transient);
  if (/Could not load the default credentials|Unable to detect a Project Id/.test(f.message)) {
    return fail(
      `no GCP credentials while ${what}: set GCP_CREDENTIALS to a service-account key, or give the worker workload identity or a service account (${f.message.split("\n")[0]})`,
      false,
    );
  }
  if (f.status === 401)
    return fail(`Compute Engine rejected the token of ${auth} while ${what}: ${describeFailure(f)}`, false);
  if (isPermissionDenied(f)) {
    const perm = f.permission === undefined ? "a permission" : `IAM permission ${f.permission}`;
    return fail(
      `${auth} lacks ${perm} while ${what}: grant it (see the role in providers/gcp/README.md). Compute Engine said ${describeFailure(f)}`,
      false,
    );
  }
  if (isQuota(f))
    return fail(
      `a GCP quota stops ${what}: ${describeFailure(f)}; ask for more quota or lower PEERPODS_LIMIT_PER_NODE`,
      true,
    );
  const capacity = capacityReason(f);
  if (capacity !== undefined) return fail(`the zone has no capacity while ${what}: ${describeFailure(f)}`, true);
  if (isNotFound(f) || f.status === 400) {
    for (const [pattern, key] of RESOURCE_PATTERNS) {
      const hint = hints[key];
      if (hint !== undefined && pattern.test(f.message))
        return fail(`${hint.variable}=${hint.value}: ${describeFailure(f)} (while ${what})`, false);
    }
  }
  if (isTransient(f)) {
    const said =
      f.status === undefined
        ? `cannot reach Compute Engine: ${f.message.split("\n")[0]}`
        : `Compute Engine failed: ${describeFailure(f)}`;
    return fail(`${said} (while ${what})`, true);
  }
  return fail(`Compute Engine refused ${what}: ${describeFailure(f)}`, false);
}
