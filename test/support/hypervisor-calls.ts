// The Hypervisor calls the daemon tests make the way the shim does (a fresh connection per call),
// bound to the socket of the test's daemon, and a pod that echoes words.
import { Hypervisor } from "../../src/gen/hypervisor_pb.js";
import { onHypervisor, runPod } from "../../src/hypervisor/shim-driver.ts";

const h = Hypervisor.method;

export interface HypervisorCallTimeouts {
  /** StartVM's deadline. */
  readonly startMs: number;
  /** The deadline of a StartVM the daemon is killed in (the relay holds it until then). */
  readonly dyingMs?: number;
}

/** `socketPath` is read at each call: the file's folders are made after this is. */
export function hypervisorCalls(socketPath: () => string, timeouts: HypervisorCallTimeouts) {
  return {
    create: (id: string, annotations: Record<string, string> = {}) =>
      onHypervisor(socketPath(), (c) => c.call(h.createVM, { id, annotations, networkNamespacePath: "" })),
    start: (id: string) =>
      onHypervisor(socketPath(), (c) => c.call(h.startVM, { id }, { timeoutMs: timeouts.startMs })),
    /** A StartVM the daemon dies in: resolves to what it failed with. */
    startDying: (id: string) =>
      onHypervisor(socketPath(), (c) =>
        c.call(h.startVM, { id }, { timeoutMs: timeouts.dyingMs ?? timeouts.startMs }),
      ).catch((e: unknown) => e),
    stop: (id: string) => onHypervisor(socketPath(), (c) => c.call(h.stopVM, { id })),
  };
}

export interface EchoPodOptions {
  readonly sandboxId?: string;
  readonly annotations?: Record<string, string>;
  readonly startTimeoutMs?: number;
}

/** Runs a pod whose container echoes `words`: its exit status and what it printed. */
export async function echoPod(
  socketPath: string,
  words: string[],
  o: EchoPodOptions = {},
): Promise<{ status: number; out: string }> {
  let out = "";
  const status = await runPod({
    socketPath,
    command: ["echo", ...words],
    ...o,
    stdout: (c) => {
      out += Buffer.from(c).toString();
    },
    stderr: () => {},
  });
  return { status, out };
}
