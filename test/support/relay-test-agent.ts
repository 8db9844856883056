// A stand-in agent for relay tests and the proxy benchmark: a ttrpc server on a Unix socket
// with just enough of grpc.Health and grpc.AgentService to exercise a relay.
//   Health.Check                      → SERVING
//   ReadStdout{container_id "block"}  → waits until release(exec_id) (a long poll, as the
//                                       shim's), then answers data = "reply-<exec_id>"
//   ReadStdout{anything else}         → answers `len` bytes at once
import net from "node:net";
import { AgentService } from "../../src/gen/agent_pb.js";
import { Health, HealthCheckResponse_ServingStatus } from "../../src/gen/health_pb.js";
import { Server } from "../../src/ttrpc/index.ts";

export const BLOCKING_CONTAINER = "block";

export interface RelayTestAgent {
  readonly socketPath: string;
  /** Connections accepted so far. */
  readonly connectionsAccepted: number;
  /** ReadStdout calls now waiting for release(). */
  readonly blockedCalls: number;
  /** Ends the waiting ReadStdout of this exec id; false when none waits. */
  release(execId: string): boolean;
  /** Resolves once n ReadStdout calls wait. */
  untilBlocked(n: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startRelayTestAgent(socketPath: string): Promise<RelayTestAgent> {
  const waiting = new Map<string, () => void>();
  const server = new Server();
  server.register(Health, {
    check: () => ({ status: HealthCheckResponse_ServingStatus.SERVING }),
  });
  server.register(AgentService, {
    readStdout: async (req, ctx) => {
      if (req.containerId !== BLOCKING_CONTAINER) return { data: Buffer.alloc(req.len, 0x61) };
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => {
          waiting.delete(req.execId);
          reject(ctx.signal.reason);
        };
        waiting.set(req.execId, () => {
          ctx.signal.removeEventListener("abort", onAbort);
          resolve();
        });
        ctx.signal.addEventListener("abort", onAbort, { once: true });
      });
      return { data: Buffer.from(`reply-${req.execId}`) };
    },
  });
  // Handlers go on before listening: the relay under test dials this path in a retry loop, and
  // a connection accepted before anyone listens for "connection" would sit unserved forever.
  const listener = net.createServer();
  let accepted = 0;
  listener.on("connection", () => accepted++);
  server.serve(listener);
  await new Promise<void>((resolve, reject) => {
    listener.once("error", reject);
    listener.listen(socketPath, () => {
      listener.off("error", reject);
      resolve();
    });
  });
  return {
    socketPath,
    get connectionsAccepted() {
      return accepted;
    },
    get blockedCalls() {
      return waiting.size;
    },
    release(execId) {
      const wake = waiting.get(execId);
      if (wake === undefined) return false;
      waiting.delete(execId);
      wake();
      return true;
    },
    async untilBlocked(n, timeoutMs = 5000) {
      const until = Date.now() + timeoutMs;
      while (waiting.size < n) {
        if (Date.now() > until)
          throw new Error(`only ${waiting.size} of ${n} ReadStdout calls are waiting after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 5));
      }
    },
    close: () => server.close(),
  };
}
