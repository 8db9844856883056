// Calls that race each other or their own leftovers, and floods, on a real daemon (local
// provider): CreateVMs at the node limit all at once, an id created again while its old agent
// socket still lingers, hundreds of idle connections to the probe port.
import fs from "node:fs/promises";
import net from "node:net";
import { beforeAll, describe, expect, it } from "vitest";
import { Health } from "../src/gen/health_pb.js";
import { Hypervisor } from "../src/gen/hypervisor_pb.js";
import { Client, Code } from "../src/ttrpc/index.ts";
import { useDaemonHooks } from "./support/daemon-hooks.ts";
import {
  type DaemonDirs,
  debugSandboxes,
  makeDaemonDirs,
  type RunningDaemon,
  startDaemon,
} from "./support/daemon-process.ts";
import { hypervisorCalls } from "./support/hypervisor-calls.ts";

const h = Hypervisor.method;
let dirs: DaemonDirs;
let daemon: RunningDaemon;

beforeAll(async () => {
  dirs = await makeDaemonDirs();
  // Sockets of stopped sandboxes linger far longer than any test: a re-created id meets its own.
  daemon = await startDaemon(dirs, { PEERPODS_LIMIT_PER_NODE: "2", SOCKET_LINGER: "10m" });
});

useDaemonHooks({ dirs: () => dirs, daemon: () => daemon, daemonPer: "file", dirsPer: "file" });

const { create, start, stop } = hypervisorCalls(() => dirs.socketPath, { startMs: 120_000 });

describe("racing calls", () => {
  it("holds PEERPODS_LIMIT_PER_NODE when 8 CreateVMs arrive at once", async () => {
    const ids = Array.from({ length: 8 }, (_, i) => `burst-${i}`);
    const results = await Promise.allSettled(ids.map((id) => create(id)));
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(2);
    for (const r of results)
      if (r.status === "rejected") expect(r.reason).toMatchObject({ code: Code.RESOURCE_EXHAUSTED });
    expect(await debugSandboxes(daemon.probePort)).toHaveLength(2);
    for (const id of ids) await stop(id);
    expect(await debugSandboxes(daemon.probePort)).toEqual([]);
  });

  it("lets a sandbox created again with the same id take over the socket its predecessor left lingering", async () => {
    const id = "again";
    const { agentSocketPath } = await create(id);
    await start(id);
    await stop(id); // the socket keeps answering "sandbox stopped" for the linger
    expect((await create(id)).agentSocketPath).toBe(agentSocketPath);
    await start(id);
    const agent = await Client.connect(agentSocketPath);
    try {
      expect(await agent.call(Health.method.check, {}, { timeoutMs: 30_000 })).toMatchObject({ status: 1 });
    } finally {
      agent.close();
    }
    await stop(id);
  }, 240_000);

  it("bounds the probe port's connections and closes idle ones, so a flood cannot starve the daemon", async () => {
    const fds = async () => (await fs.readdir(`/proc/${daemon.child.pid}/fd`)).length;
    const before = await fds();
    const flood = await Promise.all(
      Array.from(
        { length: 400 },
        () =>
          new Promise<{ closed: Promise<void> }>((resolve) => {
            const s = net.connect(daemon.probePort, "127.0.0.1");
            const closed = new Promise<void>((r) => s.once("close", () => r()));
            s.on("error", () => {});
            s.once("connect", () => resolve({ closed }));
            s.once("close", () => resolve({ closed }));
          }),
      ),
    );
    await new Promise((r) => setTimeout(r, 1000)); // let the daemon accept what it will
    expect((await fds()) - before).toBeLessThan(100);
    // The Hypervisor socket still works meanwhile (it failed with EPIPE once fds ran out).
    await create("during-flood");
    await stop("during-flood");
    // Idle connections are closed by the daemon, not kept forever.
    await Promise.all(flood.map((c) => c.closed));
    expect((await daemon.probe("/healthz")).status).toBe(200);
  }, 120_000);
});
