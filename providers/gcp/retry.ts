// The provider's own retries: the Compute Engine client makes each request once, and a
// throttled, failed (5xx) or unanswered request is tried again here, with a growing pause,
// until it succeeds, fails for good, or the call's deadline passes. Inserts and deletes carry a
// request id, so trying them again never makes a second VM or a second deletion.
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import { gceFailure, isTransient } from "./gce-error.ts";

export interface RetryTuning {
  /** First pause between attempts; doubles up to `maxDelayMs`. */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

/** Thrown when the deadline ends the retries: carries the last failure as its cause. */
export class DeadlineError extends Error {
  constructor(what: string, cause: unknown) {
    super(`deadline reached while ${what}`, { cause });
    this.name = "DeadlineError";
  }
}

export async function withRetries<T>(
  what: string,
  call: () => Promise<T>,
  tuning: RetryTuning,
  logger: Logger,
  signal: AbortSignal,
): Promise<T> {
  let delay = tuning.baseDelayMs;
  for (let attempt = 1; ; attempt++) {
    if (signal.aborted) throw new DeadlineError(what, signal.reason);
    try {
      return await call();
    } catch (err) {
      if (signal.aborted) throw new DeadlineError(what, err);
      const f = gceFailure(err);
      if (!isTransient(f)) throw err;
      logger.warn(
        { attempt, status: f.status, reason: f.reason, err: f.message.split("\n")[0] },
        `${what}: transient failure; trying again`,
      );
      try {
        await sleep(delay, undefined, { signal });
      } catch {
        throw new DeadlineError(what, err);
      }
      delay = Math.min(tuning.maxDelayMs, delay * 2);
    }
  }
}
