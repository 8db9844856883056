// Runs our ttrpc Server with the Echo service in a process of its own, so tests can watch its
// memory and see whether it survives, and benchmarks can give it a core of its own.
// Started by echo-server-process.ts through fork(): argv is <socketPath> <frameTimeoutMs>; it
// answers "stats" and "stop" messages on the IPC channel and ends when its parent goes away.
import { listenUnix, Server } from "../../src/ttrpc/index.ts";
import type { ChildMessage, ParentMessage } from "./echo-server-process.ts";
import { Echo, echoHandlers } from "./echo-service.ts";

async function main(): Promise<void> {
  const [socketPath, frameTimeoutArg] = process.argv.slice(2);
  if (socketPath === undefined || frameTimeoutArg === undefined)
    throw new Error("usage: echo-server-entry.ts SOCKET FRAME_TIMEOUT_MS");
  const send = (msg: ChildMessage) => process.send?.(msg);
  let protocolErrors = 0;
  const server = new Server({
    frameTimeoutMs: Number(frameTimeoutArg),
    onProtocolError: () => {
      protocolErrors++;
    },
  });
  server.register(Echo, echoHandlers);
  server.serve(await listenUnix(socketPath));

  const stop = async () => {
    await server.close();
    process.disconnect();
  };
  process.on("disconnect", () => void server.close());
  process.on("message", (msg: ParentMessage) => {
    if (msg.type === "stop") {
      void stop();
      return;
    }
    // Collected garbage first, when allowed, so heap numbers compare like with like.
    (globalThis as { gc?: () => void }).gc?.();
    const mem = process.memoryUsage();
    send({
      type: "stats",
      rss: mem.rss,
      heapUsed: mem.heapUsed,
      external: mem.external,
      maxRss: process.resourceUsage().maxRSS * 1024,
      connections: server.connectionCount,
      protocolErrors,
    });
  });
  send({ type: "ready" });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
