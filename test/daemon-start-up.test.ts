// What the daemon does with the state it finds at start-up: the folders it was pointed at, the
// settings it logs, records it cannot trust and sandboxes it cannot serve. A real daemon on the
// local provider, restarted on the same state.
import { randomUUID } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { Health } from "../src/gen/health_pb.js";
import { Hypervisor } from "../src/gen/hypervisor_pb.js";
import { onHypervisor } from "../src/hypervisor/shim-driver.ts";
import { Client } from "../src/ttrpc/index.ts";
import { useDaemonHooks } from "./support/daemon-hooks.ts";
import {
  cleanupDaemonDirs,
  type DaemonDirs,
  debugSandboxes,
  freePort,
  killRelay,
  liveLocalVms,
  makeDaemonDirs,
  type RunningDaemon,
  startDaemon,
} from "./support/daemon-process.ts";
import { hypervisorCalls } from "./support/hypervisor-calls.ts";

const h = Hypervisor.method;
let dirs: DaemonDirs | undefined;
let daemon: RunningDaemon | undefined;

useDaemonHooks({ dirs: () => dirs, daemon: () => daemon });

const mode = async (p: string) => (await fs.stat(p)).mode & 0o777;
const { create, start } = hypervisorCalls(() => dirs!.socketPath, { startMs: 60_000 });
const recordFile = (id: string) => path.join(dirs!.stateDir, "sandboxes", `${id}.json`);

const liveVms = () => liveLocalVms(dirs!);

describe("daemon start-up", () => {
  it("makes its own folders 0700 but leaves the mode of a folder the operator chose, and never logs INITDATA", async () => {
    dirs = await makeDaemonDirs();
    // The operator points CAA_STATE_DIR at a folder that exists, with a mode of their choosing.
    const chosen = path.join(dirs.root, "operator-chosen");
    await fs.mkdir(chosen);
    await fs.chmod(chosen, 0o751);
    dirs = { ...dirs, stateDir: chosen };
    const secret = `kbs-token-${randomUUID()}`;
    const initdata = (file: string) =>
      `version = "0.1.0"\nalgorithm = "sha384"\n[data]\n"${file}" = "token = '${secret}'"\n`;
    daemon = await startDaemon(dirs, { INITDATA: initdata("aa.toml") });
    const id = "initdata";
    await onHypervisor(dirs.socketPath, (c) =>
      c.call(h.createVM, {
        id,
        annotations: { "io.katacontainers.config.hypervisor.cc_init_data": initdata("cdh.toml") },
        networkNamespacePath: "",
      }),
    );
    await onHypervisor(dirs.socketPath, (c) => c.call(h.startVM, { id }, { timeoutMs: 60_000 }));
    await onHypervisor(dirs.socketPath, (c) => c.call(h.stopVM, { id }));
    expect(await mode(chosen)).toBe(0o751);
    expect(await mode(path.join(chosen, "sandboxes"))).toBe(0o700);
    expect(await mode(path.join(chosen, "ca"))).toBe(0o700);
    await daemon.stop();
    expect(daemon.logs()).toContain('"INITDATA":"<redacted>"');
    expect(daemon.logs()).not.toContain(secret);
  }, 180_000);

  it("quarantines records that fail validation: kept, named in logs and /debug, their VMs kept; the rest is served", async () => {
    dirs = await makeDaemonDirs();
    daemon = await startDaemon(dirs);
    for (const id of ["no-annotations", "bogus-state", "healthy"]) {
      await create(id);
      await start(id);
    }
    const vms = await liveVms();
    expect(vms).toHaveLength(3);
    await daemon.stop(); // peer VMs keep running
    const edit = async (id: string, change: (r: Record<string, unknown>) => void) => {
      const r = JSON.parse(await fs.readFile(recordFile(id), "utf8")) as Record<string, unknown>;
      change(r);
      await fs.writeFile(recordFile(id), JSON.stringify(r));
    };
    await edit("no-annotations", (r) => delete r.annotations);
    await edit("bogus-state", (r) => (r.state = "bogus"));
    const before = {
      noAnnotations: await fs.readFile(recordFile("no-annotations"), "utf8"),
      bogus: await fs.readFile(recordFile("bogus-state"), "utf8"),
    };

    daemon = await startDaemon(dirs);
    const res = await daemon.probe("/debug/sandboxes");
    expect(res.status).toBe(200);
    const listed = JSON.parse(res.body) as { id: string; state: string; error?: string }[];
    expect(listed.find((s) => s.id === "healthy")).toMatchObject({ state: "running" });
    expect(listed.find((s) => s.id === "no-annotations")).toMatchObject({
      state: "quarantined",
      error: expect.stringContaining("annotations"),
    });
    expect(listed.find((s) => s.id === "bogus-state")).toMatchObject({
      state: "quarantined",
      error: expect.stringContaining("state"),
    });
    expect(await liveVms()).toEqual(vms);
    expect(await fs.readFile(recordFile("no-annotations"), "utf8")).toBe(before.noAnnotations);
    expect(await fs.readFile(recordFile("bogus-state"), "utf8")).toBe(before.bogus);
    expect(daemon.logs()).toContain(recordFile("bogus-state"));
    expect((await daemon.probe("/metrics")).body).not.toContain("NaN");
    // CreateVM of a quarantined id must not overwrite the record an operator is to look at.
    await expect(create("bogus-state")).rejects.toMatchObject({
      statusMessage: expect.stringContaining("quarantined"),
    });
    await onHypervisor(dirs.socketPath, (c) => c.call(h.stopVM, { id: "healthy" }));
    await daemon.stop();
    // The operator's part: the quarantined VMs are still there to be looked at, then removed.
    expect((await cleanupDaemonDirs(dirs)).sort()).toEqual(vms.filter((v) => !v.includes("healthy")));
    dirs = undefined;
  }, 180_000);

  it("serves the sandboxes it can when one cannot be served, marking that one failed with the reason", async () => {
    dirs = await makeDaemonDirs();
    daemon = await startDaemon(dirs);
    const sockets: Record<string, string> = {};
    for (const id of ["blocked", "served"]) {
      sockets[id] = (await create(id)).agentSocketPath;
      await start(id);
    }
    await daemon.stop(); // peer VMs keep running
    // The relay, which owns the agent sockets, goes too (a node reboot, or an upgrade of it), and
    // something else now sits where one pod's agent socket goes.
    await killRelay(dirs.relaySocket);
    await fs.rm(sockets.blocked!, { force: true });
    await fs.mkdir(path.dirname(sockets.blocked!), { recursive: true });
    await fs.writeFile(sockets.blocked!, "not a socket");

    daemon = await startDaemon(dirs);
    const listed = await debugSandboxes(daemon.probePort);
    expect(listed.find((s) => s.id === "blocked")).toMatchObject({
      state: "failed",
      error: expect.stringContaining("not a socket"),
    });
    expect(listed.find((s) => s.id === "served")).toMatchObject({ state: "running" });
    const agent = await Client.connect(sockets.served!);
    try {
      expect(await agent.call(Health.method.check, {}, { timeoutMs: 30_000 })).toMatchObject({ status: 1 });
    } finally {
      agent.close();
    }
    for (const id of ["blocked", "served"]) await onHypervisor(dirs.socketPath, (c) => c.call(h.stopVM, { id }));
    expect(await liveVms()).toEqual([]);
  }, 180_000);

  it("retries a failing provider listing with back-off, not ready meanwhile, instead of exiting", async () => {
    dirs = await makeDaemonDirs();
    // A local VM whose record cannot be read makes the provider's listing fail.
    const broken = path.join(dirs.vmsDir, "broken");
    await fs.mkdir(broken, { recursive: true });
    await fs.writeFile(path.join(broken, "vm.json"), "{");
    const port = await freePort();
    const starting = startDaemon(dirs, { PROBE_PORT: String(port) });
    const exited = starting.then(
      () => "ready",
      (err: Error) => `exited: ${err.message}`,
    );
    // Not ready, and saying why, while the listing keeps failing; never exiting.
    let readyz: { status: number; body: string } | undefined;
    while (readyz === undefined) {
      const outcome = await Promise.race([exited, new Promise((r) => setTimeout(r, 100))]);
      if (outcome !== undefined) throw new Error(`daemon did not wait for the provider: ${String(outcome)}`);
      const res = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
      const body = res === undefined ? "" : await res.text();
      if (body.includes("reconcileError")) readyz = { status: res!.status, body };
    }
    expect(readyz.status).toBe(503);
    expect(JSON.parse(readyz.body)).toMatchObject({
      reconciled: false,
      socketServed: false,
      reconcileError: expect.stringContaining("broken"),
    });
    await fs.rm(broken, { recursive: true });
    daemon = await starting;
    expect(daemon.logs()).toMatch(/reconcil.*retrying/);
  }, 180_000);
});
