// What went wrong in a Compute Engine call, from whichever shape it arrived in:
// - an error answer, decoded by the REST transport into a GoogleError: the HTTP status
//   (`httpStatusCode`), Google's reason (ErrorInfo `reason`, or the legacy `errors[].reason`),
//   the missing IAM permission (ErrorInfo metadata, or "Required 'compute.x.y' permission");
// - a zonal operation that ended DONE with `error.errors[]` (codes such as
//   ZONE_RESOURCE_POOL_EXHAUSTED or QUOTA_EXCEEDED), turned into an OperationError here;
// - a failure to get a token (TokenError), possibly wrapped by the transport as its cause;
// - a transport failure (connection refused or reset) or the call's own deadline.
import { TokenError } from "./token-error.ts";

export interface GceFailure {
  /** HTTP status, when Compute Engine answered. */
  readonly status: number | undefined;
  /** Google's reason or operation error code: notFound, forbidden, ZONE_RESOURCE_POOL_EXHAUSTED, ... */
  readonly reason: string | undefined;
  readonly message: string;
  /** The IAM permission a 403 names, when it names one. */
  readonly permission: string | undefined;
  /** The token endpoint refused or could not be reached. */
  readonly token: TokenError | undefined;
}

/** A zonal operation that finished with errors. */
export class OperationError extends Error {
  readonly code: string;
  readonly httpStatus: number | undefined;
  readonly codes: readonly string[];
  constructor(codes: readonly string[], message: string, httpStatus: number | undefined) {
    super(message);
    this.name = "OperationError";
    this.code = codes[0] ?? "UNKNOWN";
    this.codes = codes;
    this.httpStatus = httpStatus;
  }
}

interface GoogleErrorShape {
  readonly message?: string;
  readonly code?: unknown;
  readonly httpStatusCode?: unknown;
  readonly reason?: unknown;
  readonly errorInfoMetadata?: Record<string, unknown>;
  readonly errors?: ReadonlyArray<{ readonly reason?: unknown; readonly message?: unknown }>;
  readonly cause?: unknown;
}

const PERMISSION = /Required '([a-zA-Z]+\.[a-zA-Z]+\.[a-zA-Z]+)' permission/;

export function gceFailure(err: unknown): GceFailure {
  const token = findToken(err);
  if (token !== undefined)
    return { status: token.status, reason: token.error, message: token.message, permission: undefined, token };
  if (err instanceof OperationError)
    return { status: err.httpStatus, reason: err.code, message: err.message, permission: undefined, token: undefined };
  if (!(err instanceof Error))
    return { status: undefined, reason: undefined, message: String(err), permission: undefined, token: undefined };
  const e = err as Error & GoogleErrorShape;
  const status = typeof e.httpStatusCode === "number" ? e.httpStatusCode : undefined;
  const legacy = (Array.isArray(e.errors) ? e.errors : rawErrors(e)).find((x) => typeof x.reason === "string");
  const reason =
    typeof e.reason === "string" && e.reason !== ""
      ? e.reason
      : typeof legacy?.reason === "string"
        ? legacy.reason
        : undefined;
  const metaPermission = e.errorInfoMetadata?.permission;
  const permission = typeof metaPermission === "string" ? metaPermission : PERMISSION.exec(e.message)?.[1];
  // The transport prefixes gRPC status numbers ("7 PERMISSION_DENIED: ..."); keep Google's words.
  const message = e.message.replace(/^\d+ [A-Z_]+: /, "");
  return { status, reason, message, permission, token: undefined };
}

// The REST transport keeps Google's error body on the error under this registered symbol; its
// legacy `errors[].reason` (rateLimitExceeded, notFound, quotaExceeded, ...) is not copied onto
// the error itself.
const RAW_PAYLOAD = Symbol.for("google-gax.rawHttpResponsePayload");

function rawErrors(e: object): ReadonlyArray<{ readonly reason?: unknown }> {
  const raw = (e as Record<symbol, unknown>)[RAW_PAYLOAD];
  if (typeof raw !== "string") return [];
  try {
    const errors = (JSON.parse(raw) as { error?: { errors?: unknown } }).error?.errors;
    return Array.isArray(errors) ? (errors as Array<{ reason?: unknown }>) : [];
  } catch {
    return [];
  }
}

function findToken(err: unknown): TokenError | undefined {
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    if (e instanceof TokenError) return e;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

const NOT_FOUND_REASONS: ReadonlySet<string> = new Set(["notFound", "NOT_FOUND", "RESOURCE_NOT_FOUND"]);

export function isNotFound(f: GceFailure): boolean {
  return f.status === 404 || (f.reason !== undefined && NOT_FOUND_REASONS.has(f.reason));
}

/** The zone has no room for this machine type now, or a quota stops it: another type (or
 * later) may work. */
const CAPACITY_REASONS: ReadonlySet<string> = new Set([
  "ZONE_RESOURCE_POOL_EXHAUSTED",
  "ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS",
  "RESOURCE_POOL_EXHAUSTED",
  "QUOTA_EXCEEDED",
  "quotaExceeded",
  "UNSUPPORTED_OPERATION_MACHINE_TYPE_NOT_AVAILABLE",
]);

export function capacityReason(f: GceFailure): string | undefined {
  return f.reason !== undefined && CAPACITY_REASONS.has(f.reason) ? f.reason : undefined;
}

export function isQuota(f: GceFailure): boolean {
  return f.reason === "QUOTA_EXCEEDED" || f.reason === "quotaExceeded";
}

const THROTTLE_REASONS: ReadonlySet<string> = new Set([
  "rateLimitExceeded",
  "userRateLimitExceeded",
  "RATE_LIMIT_EXCEEDED",
]);

/** Trying the same request again soon can help: throttling, server errors, a lost connection. */
export function isTransient(f: GceFailure): boolean {
  if (f.token !== undefined) return f.token.transient;
  if (f.status === undefined) return f.reason === undefined; // no answer at all: a transport failure
  return f.status === 429 || f.status >= 500 || (f.reason !== undefined && THROTTLE_REASONS.has(f.reason));
}

export function isPermissionDenied(f: GceFailure): boolean {
  return f.status === 403 && !isTransient(f) && !isQuota(f);
}

/** "reason: message" (or the message alone), one line. */
export function describeFailure(f: GceFailure): string {
  const first = f.message.split("\n")[0] ?? f.message;
  return f.reason === undefined || first.includes(f.reason) ? first : `${f.reason}: ${first}`;
}
