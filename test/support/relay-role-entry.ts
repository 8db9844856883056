// One end of the agent relay in its own process, for the proxy benchmark (bench/proxy.ts):
//   vm <dir>            the test agent on <dir>/agent.sock and a forwarder (mutual TLS) on a
//                       free loopback port, as a peer VM runs kata-agent and the forwarder
//   daemon <dir> <port> an AgentProxy on <dir>/pod/agent.ttrpc relaying to that port, as the
//                       daemon serves a pod's agent socket
// TLS material is read from <dir>/tls.json ({ server, client }); readiness and addresses go to
// the parent over IPC; a "cpu" message is answered with the CPU time used so far (µs); a "stop"
// message (or the parent's exit) ends the process.
import fs from "node:fs/promises";
import path from "node:path";
import { startForwarder } from "../../src/forwarder/index.ts";
import { AgentProxy } from "../../src/proxy/index.ts";
import { startRelayTestAgent } from "./relay-test-agent.ts";
import type { TestTlsMaterial } from "./test-certs.ts";

export type RoleReady = { type: "ready"; agentSocket?: string; port?: number; socketPath?: string };
export type RoleCpu = { type: "cpu"; us: number };

async function main(): Promise<void> {
  const [role, dir, port] = process.argv.slice(2);
  if (dir === undefined || (role !== "vm" && role !== "daemon"))
    throw new Error("usage: relay-role-entry vm|daemon DIR [PORT]");
  const tls = JSON.parse(await fs.readFile(path.join(dir, "tls.json"), "utf8")) as {
    server: TestTlsMaterial;
    client: TestTlsMaterial;
  };
  const closers: (() => Promise<unknown>)[] = [];
  let ready: RoleReady;
  if (role === "vm") {
    const agent = await startRelayTestAgent(path.join(dir, "agent.sock"));
    const forwarder = await startForwarder({
      listen: { host: "127.0.0.1", port: 0 },
      agentSocketPath: agent.socketPath,
      tls: tls.server,
    });
    closers.push(
      () => forwarder.close(),
      () => agent.close(),
    );
    ready = { type: "ready", agentSocket: agent.socketPath, port: forwarder.port };
  } else {
    const proxy = new AgentProxy({
      socketPath: path.join(dir, "pod", "agent.ttrpc"),
      target: () => ({ host: "127.0.0.1", port: Number(port) }),
      tls: tls.client,
      dialTimeoutMs: 10_000,
    });
    await proxy.start();
    closers.push(() => proxy.stop(0));
    ready = { type: "ready", socketPath: proxy.socketPath };
  }
  const stop = async () => {
    for (const c of closers) await c();
    process.exit(0);
  };
  process.on("message", (msg: { type: string }) => {
    if (msg.type === "stop") void stop();
    if (msg.type === "cpu") {
      const used = process.cpuUsage();
      process.send?.({ type: "cpu", us: used.user + used.system } satisfies RoleCpu);
    }
  });
  process.on("disconnect", () => void stop());
  process.send?.(ready);
}

main().catch((err: Error) => {
  process.stderr.write(`relay role: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
