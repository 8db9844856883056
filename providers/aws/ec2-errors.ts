// Turns what the EC2 SDK throws into errors an operator can act on: which permission to grant,
// which variable names a missing resource, whether a quota or capacity is the cause, and
// whether trying again later can help.
import { ProviderError } from "../provider.ts";

/** Names the setting behind a resource, e.g. { variable: "AWS_SUBNET_ID", value: "subnet-1" }. */
export interface SettingHint {
  readonly variable: string;
  readonly value: string;
}

/** The settings a call used, so a "not found" can name the one at fault. */
export interface CallHints {
  readonly image?: SettingHint;
  readonly subnet?: SettingHint;
  readonly securityGroups?: SettingHint;
  readonly keyName?: SettingHint;
  readonly instanceType?: SettingHint;
  readonly launchTemplate?: SettingHint;
}

const RESOURCE_CODES: Readonly<Record<string, keyof CallHints>> = {
  "InvalidAMIID.NotFound": "image",
  "InvalidAMIID.Malformed": "image",
  "InvalidAMIID.Unavailable": "image",
  "InvalidSubnetID.NotFound": "subnet",
  "InvalidSubnetID.Malformed": "subnet",
  InvalidSubnet: "subnet",
  "InvalidGroup.NotFound": "securityGroups",
  "InvalidGroupId.Malformed": "securityGroups",
  "InvalidKeyPair.NotFound": "keyName",
  "InvalidKeyPair.Format": "keyName",
  InvalidInstanceType: "instanceType",
  "InvalidLaunchTemplateName.NotFoundException": "launchTemplate",
  "InvalidLaunchTemplateName.MalformedException": "launchTemplate",
  "InvalidLaunchTemplateId.NotFound": "launchTemplate",
  "InvalidLaunchTemplateId.Malformed": "launchTemplate",
  "InvalidLaunchTemplateId.VersionNotFound": "launchTemplate",
};

const PERMISSION_CODES: ReadonlySet<string> = new Set([
  "UnauthorizedOperation",
  "AccessDenied",
  "AccessDeniedException",
  "OptInRequired",
  "Blocked",
  "PendingVerification",
]);
const CREDENTIAL_CODES: ReadonlySet<string> = new Set([
  "AuthFailure",
  "InvalidClientTokenId",
  "SignatureDoesNotMatch",
  "ExpiredToken",
  "RequestExpired",
  "UnrecognizedClientException",
]);
const QUOTA_CODES: ReadonlySet<string> = new Set([
  "InstanceLimitExceeded",
  "VcpuLimitExceeded",
  "InsufficientFreeAddressesInSubnet",
  "ResourceLimitExceeded",
  "VolumeLimitExceeded",
  "MaxIOPSLimitExceeded",
  "TagLimitExceeded",
]);
/** EC2 has no room for the type right now; another type or later may work. */
export const CAPACITY_CODES: ReadonlySet<string> = new Set([
  "InsufficientInstanceCapacity",
  "InsufficientCapacity",
  "InsufficientHostCapacity",
  "Unsupported",
]);
const THROTTLE_CODES: ReadonlySet<string> = new Set([
  "RequestLimitExceeded",
  "Throttling",
  "ThrottlingException",
  "RequestThrottled",
]);
const NETWORK_CODES: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

interface SdkErrorShape {
  readonly name?: string;
  readonly message?: string;
  readonly code?: string;
  readonly $metadata?: { readonly httpStatusCode?: number; readonly attempts?: number; readonly requestId?: string };
}

/** EC2's error code (the SDK puts it in `name`), or undefined for errors that are not EC2's. */
export function ec2ErrorCode(err: unknown): string | undefined {
  const e = err as SdkErrorShape | undefined;
  return e?.$metadata?.httpStatusCode !== undefined ? e.name : undefined;
}

/**
 * Explains a failed call `ec2:<action>`. `signal` tells a deadline from other failures;
 * `hints` name the settings the call used.
 */
export function explainEc2Error(
  err: unknown,
  action: string,
  signal: AbortSignal,
  hints: CallHints = {},
): ProviderError {
  if (err instanceof ProviderError) return err;
  const e = (err ?? {}) as SdkErrorShape;
  const message = e.message ?? String(err);
  const code = ec2ErrorCode(err);
  const attempts = e.$metadata?.attempts ?? 1;
  const tries = attempts > 1 ? ` after ${attempts} attempts` : "";
  const said = code === undefined ? message : `${code}: ${message}`;
  const fail = (text: string, retryable: boolean) => new ProviderError(text, { retryable, cause: err });

  if (signal.aborted)
    return fail(`ec2:${action} stopped: the call's deadline passed (${describeReason(signal.reason)})`, true);
  if (code === undefined) {
    if (e.name === "CredentialsProviderError") {
      return fail(
        `no AWS credentials for ec2:${action}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, provide shared credential files, or give the worker an IAM role (${message})`,
        true,
      );
    }
    if (NETWORK_CODES.has(e.code ?? "") || e.name === "TimeoutError")
      return fail(`cannot reach the EC2 endpoint for ec2:${action}${tries}: ${message}`, true);
    return fail(`ec2:${action} failed: ${message}`, false);
  }
  const resource = RESOURCE_CODES[code];
  if (resource !== undefined && hints[resource] !== undefined) {
    const hint = hints[resource];
    return fail(`${hint.variable}=${hint.value}: ${said} (ec2:${action})`, false);
  }
  if (PERMISSION_CODES.has(code)) {
    return fail(
      `the daemon's AWS identity may not call ec2:${action}: grant it (see the IAM policy in providers/aws/README.md). EC2 said ${said}`,
      false,
    );
  }
  if (CREDENTIAL_CODES.has(code))
    return fail(`EC2 rejected the daemon's AWS credentials on ec2:${action}: ${said}`, false);
  if (QUOTA_CODES.has(code))
    return fail(
      `an AWS quota stops ec2:${action}: ${said}; ask for a higher limit in Service Quotas or free some`,
      true,
    );
  if (CAPACITY_CODES.has(code)) return fail(`EC2 has no capacity for ec2:${action}${tries}: ${said}`, true);
  if (THROTTLE_CODES.has(code)) return fail(`EC2 throttled ec2:${action}${tries}: ${said}`, true);
  if ((e.$metadata?.httpStatusCode ?? 0) >= 500) return fail(`EC2 failed ec2:${action}${tries}: ${said}`, true);
  return fail(`ec2:${action} refused: ${said}`, false);
}

function describeReason(reason: unknown): string {
  if (reason instanceof Error) return reason.message;
  return String(reason);
}
