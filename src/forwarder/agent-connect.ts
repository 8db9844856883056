// Connects to kata-agent's Unix socket. Right after boot the agent may not listen yet, so a
// missing or refusing socket is retried for a short while.
import net from "node:net";

const NOT_YET = new Set(["ENOENT", "ECONNREFUSED"]);

export interface AgentConnectOptions {
  /** How long a missing agent socket is retried. */
  readonly retryForMs: number;
  readonly retryIntervalMs: number;
  /** Stops retrying (the client went away or the forwarder closes). */
  readonly signal: AbortSignal;
}

export function connectAgent(socketPath: string, o: AgentConnectOptions): Promise<net.Socket> {
  const deadline = Date.now() + o.retryForMs;
  return new Promise((resolve, reject) => {
    let pending: net.Socket | undefined;
    let timer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      clearTimeout(timer);
      pending?.destroy();
      reject(o.signal.reason);
    };
    const attempt = () => {
      const socket = net.connect(socketPath);
      pending = socket;
      const onError = (err: NodeJS.ErrnoException) => {
        socket.off("connect", onConnect);
        pending = undefined;
        if (o.signal.aborted) return;
        if (err.code !== undefined && NOT_YET.has(err.code) && Date.now() + o.retryIntervalMs <= deadline) {
          timer = setTimeout(attempt, o.retryIntervalMs);
          return;
        }
        o.signal.removeEventListener("abort", onAbort);
        reject(err);
      };
      const onConnect = () => {
        socket.off("error", onError);
        pending = undefined;
        o.signal.removeEventListener("abort", onAbort);
        resolve(socket);
      };
      socket.once("error", onError);
      socket.once("connect", onConnect);
    };
    if (o.signal.aborted) return reject(o.signal.reason);
    o.signal.addEventListener("abort", onAbort, { once: true });
    attempt();
  });
}
