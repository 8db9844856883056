// What went wrong in an Azure call, read from whichever shape the SDK reported it in:
// - a RestError for an HTTP error answer: `code` from the body's error.code, `statusCode`,
//   `details` the body ({"error":{"code","message","details":[...]}});
// - a plain Error for a long-running operation that ended Failed, whose message alone carries
//   the code: "The long-running operation has failed. <Code>. <message>";
// - a RestError with a system code (ECONNRESET, ...) when the connection failed;
// - an AbortError when the call's deadline passed.

export interface ArmFailure {
  /** Azure's error code (AllocationFailed, ResourceNotFound, ...), or a system code. */
  readonly code: string | undefined;
  /** Codes of nested details, e.g. QuotaExceeded under OperationNotAllowed. */
  readonly detailCodes: readonly string[];
  readonly message: string;
  /** HTTP status, when Azure answered. */
  readonly status: number | undefined;
}

const LRO_FAILED = /^The long-running operation has failed\.\s+([A-Za-z][\w.]*)\.\s+([\s\S]*)$/;

/** The failure code and message of a failed long-running operation, from the SDK's message. */
export function parseLroFailure(message: string): { code: string; message: string } | undefined {
  const m = LRO_FAILED.exec(message.trim());
  return m === null ? undefined : { code: m[1]!, message: m[2]!.trim() };
}

export function armFailure(err: unknown): ArmFailure {
  if (!(err instanceof Error)) return { code: undefined, detailCodes: [], message: String(err), status: undefined };
  const e = err as Error & { code?: unknown; statusCode?: unknown; details?: unknown };
  const status = typeof e.statusCode === "number" ? e.statusCode : undefined;
  if (e.name !== "RestError") {
    const lro = parseLroFailure(e.message);
    if (lro !== undefined) return { code: lro.code, detailCodes: [], message: lro.message, status: undefined };
  }
  const body = bodyError(e.details);
  const code = typeof e.code === "string" && e.code !== "" ? e.code : body?.code;
  return {
    code,
    detailCodes: body === undefined ? [] : detailCodes(body),
    message: body?.message ?? e.message,
    status,
  };
}

interface BodyError {
  readonly code?: string;
  readonly message?: string;
  readonly details?: readonly BodyError[];
}

function bodyError(details: unknown): BodyError | undefined {
  if (typeof details !== "object" || details === null) return undefined;
  const inner = (details as { error?: unknown }).error;
  return typeof inner === "object" && inner !== null ? (inner as BodyError) : undefined;
}

function detailCodes(e: BodyError): string[] {
  const out: string[] = [];
  for (const d of e.details ?? []) {
    if (typeof d.code === "string") out.push(d.code);
    out.push(...detailCodes(d));
  }
  return out;
}

const NOT_FOUND_CODES: ReadonlySet<string> = new Set(["ResourceNotFound", "NotFound", "ParentResourceNotFound"]);

/** The resource (not its group or subscription) does not exist. */
export function isNotFound(f: ArmFailure): boolean {
  if (f.code === "ResourceGroupNotFound" || f.code === "SubscriptionNotFound") return false;
  return f.status === 404 || (f.code !== undefined && NOT_FOUND_CODES.has(f.code));
}

/** Azure has no room for this size now: another size (or later) may work. */
const CAPACITY_CODES: ReadonlySet<string> = new Set([
  "AllocationFailed",
  "ZonalAllocationFailed",
  "OverconstrainedAllocationRequest",
  "OverconstrainedZonalAllocationRequest",
  "SkuNotAvailable",
  "QuotaExceeded",
]);

/** The capacity code behind a failure (quota errors also come as OperationNotAllowed with a
 * QuotaExceeded detail, or only say "quota" in their message), or undefined. */
export function capacityCode(f: ArmFailure): string | undefined {
  if (f.code !== undefined && CAPACITY_CODES.has(f.code)) return f.code;
  const nested = f.detailCodes.find((c) => CAPACITY_CODES.has(c));
  if (nested !== undefined) return nested;
  if (f.code === "OperationNotAllowed" && /quota/i.test(f.message)) return "QuotaExceeded";
  return undefined;
}

/** Another operation holds the resource; waiting for it helps. */
export function isConflictInProgress(f: ArmFailure): boolean {
  return f.code === "AnotherOperationInProgress" || f.code === "OperationPreempted" || f.code === "RetryableError";
}

/** The caller's signal fired (deadline or cancellation). */
export function isAbort(err: unknown): boolean {
  return err instanceof Error && (err.name === "AbortError" || (err as { code?: unknown }).code === "ABORT_ERR");
}

/** One line for logs and errors: "Code: message" (or the message alone). */
export function describeFailure(f: ArmFailure): string {
  return f.code === undefined ? f.message : `${f.code}: ${f.message}`;
}

/** A failure Azure reported in a resource's state rather than in an answer (a VM found in
 * Failed state, its instance view naming the code). */
export class ArmOperationError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = "ArmOperationError";
    this.code = code;
  }
}

/** The identity library could not get a token (bad secret, no managed identity, ...). */
export function isSignInFailure(err: unknown): boolean {
  return (
    err instanceof Error &&
    [
      "AuthenticationError",
      "AggregateAuthenticationError",
      "CredentialUnavailableError",
      "AuthenticationRequiredError",
    ].includes(err.name)
  );
}
