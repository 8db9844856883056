// Exit statuses as kata-agent reports them in WaitProcess: the exit code of a process that
// exited, 128 + the signal number for one a signal killed (the shell convention).

import { constants } from "node:os";

/** The status of a process that ended with `code` or by `signal` (as Node reports them). */
export function exitStatus(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  if (signal !== null) return 128 + signalNumber(signal);
  // Node reports one of the two; treat the impossible case as a generic failure.
  return 255;
}

export function signalNumber(name: NodeJS.Signals): number {
  const n = constants.signals[name];
  if (n === undefined) throw new Error(`unknown signal ${name}`);
  return n;
}

// Signals whose default action does not end a process (ignore, stop, continue) and signal 0.
const NON_TERMINATING: ReadonlySet<number> = new Set<number>([
  0,
  constants.signals.SIGCHLD,
  constants.signals.SIGCONT,
  constants.signals.SIGSTOP,
  constants.signals.SIGTSTP,
  constants.signals.SIGTTIN,
  constants.signals.SIGTTOU,
  constants.signals.SIGURG,
  constants.signals.SIGWINCH,
]);

/** Whether the signal's default action ends the process it is sent to. */
export function terminatesByDefault(signal: number): boolean {
  return !NON_TERMINATING.has(signal);
}

/** Signal numbers a process can be sent: 0 (probe) through the last real-time signal. */
export function isValidSignal(signal: number): boolean {
  return Number.isInteger(signal) && signal >= 0 && signal <= 64;
}
