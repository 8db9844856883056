// How a long-running binary ends: the first SIGTERM or SIGINT stops it, further ones are ignored
// while it stops (a second Ctrl-C does not cut a stop short), and the process exits 0, or 1 when
// the stop failed.
import type { Log } from "./log.ts";

/** `stop` logs why it stops and does it; the exit follows its outcome. */
export function exitOnSignal(logger: Log, stop: (signal: NodeJS.Signals) => Promise<void>): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    stop(signal).then(
      () => process.exit(0),
      (err: Error) => {
        logger.error({ err: err.message }, "unclean stop");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}
