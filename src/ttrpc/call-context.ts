/** What a handler learns about the call besides its request message. */
export interface CallContext {
  readonly service: string;
  readonly method: string;
  /** Aborted when the call's deadline passes, the connection closes or the server stops. */
  readonly signal: AbortSignal;
  /** Absolute deadline (ms since epoch) from the request's timeout_nano; undefined for none. */
  readonly deadline: number | undefined;
  /** Request metadata; a key may repeat, so each maps to all its values in order. */
  readonly metadata: ReadonlyMap<string, readonly string[]>;
}
