import { Code, codeName } from "./codes.ts";

/** A call that ended with a non-OK status: the code and the peer's message, unchanged. */
export class TtrpcError extends Error {
  readonly code: number;
  /** The status message as the peer sent it (the Error message adds the code name). */
  readonly statusMessage: string;

  constructor(code: number, statusMessage: string, options?: { cause?: unknown }) {
    super(`${codeName(code)}: ${statusMessage}`, options);
    this.name = "TtrpcError";
    this.code = code;
    this.statusMessage = statusMessage;
  }

  get codeName(): string {
    return codeName(this.code);
  }
}

/** Maps anything a handler threw to the status sent back. Plain errors become UNKNOWN, as the
 * Go server does, keeping their message so an operator sees the cause. */
export function toTtrpcError(err: unknown): TtrpcError {
  if (err instanceof TtrpcError) return err;
  if (err instanceof Error) {
    if (err.name === "AbortError") return new TtrpcError(Code.CANCELLED, err.message, { cause: err });
    if (err.name === "TimeoutError") return new TtrpcError(Code.DEADLINE_EXCEEDED, err.message, { cause: err });
    return new TtrpcError(Code.UNKNOWN, err.message, { cause: err });
  }
  return new TtrpcError(Code.UNKNOWN, String(err));
}
