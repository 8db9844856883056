// A token endpoint that refused the service account, or could not be reached.
export class TokenError extends Error {
  /** HTTP status of the answer, when there was one. */
  readonly status: number | undefined;
  /** OAuth error code (invalid_grant, invalid_client, ...). */
  readonly error: string | undefined;
  /** Worth asking again: no answer, 429 or 5xx. */
  readonly transient: boolean;
  constructor(message: string, o: { status?: number; error?: string; transient: boolean; cause?: unknown }) {
    super(message, { cause: o.cause });
    this.name = "TokenError";
    this.status = o.status;
    this.error = o.error;
    this.transient = o.transient;
  }
}
