// Node's timers hold a signed 32-bit count of milliseconds: setTimeout, setInterval and
// AbortSignal.timeout given 2^31 ms or more fire after 1 ms instead (with only a warning), so
// a long timeout becomes an immediate one and a long interval a busy loop.

/** The longest delay a Node timer honours. */
export const TIMER_MAX_MS = 2 ** 31 - 1;

/** Whether a timer of `ms` would fire when asked rather than at once. */
export function fitsTimer(ms: number): boolean {
  return ms <= TIMER_MAX_MS;
}
