// The warm pool through the real daemon (and its peerpod-relay) on the local provider: the pool
// fills, pods that fit claim a booted VM (StartVM warm) and run, the pool refills, pods that do
// not fit go cold and the metrics say why; SIGKILLs during a claim and while pool VMs boot, then
// restarts: no VM leaked, none claimed twice, the pool adopted; WARM_POOL_SIZE lowered and 0;
// VMs older than WARM_POOL_MAX_AGE replaced.
import fs from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ANNOTATIONS } from "../src/kata/annotations.ts";
import { useDaemonHooks } from "./support/daemon-hooks.ts";
import {
  clusterMark,
  type DaemonDirs,
  makeDaemonDirs,
  type RunningDaemon,
  startDaemon,
} from "./support/daemon-process.ts";
import { echoPod, hypervisorCalls } from "./support/hypervisor-calls.ts";

let dirs: DaemonDirs | undefined;
let daemon: RunningDaemon | undefined;

/** Pool VMs outlive the daemon on purpose (the next start adopts them); every VM still running
 * at the end must be one the pool's records name: anything else leaked. */
async function recordedPoolVms(d: DaemonDirs): Promise<string[]> {
  const names = await fs.readdir(path.join(d.stateDir, "pool")).catch(() => [] as string[]);
  return names
    .filter((n) => !n.startsWith(".") && n.endsWith(".json"))
    .map((n) => n.slice(0, -5))
    .sort();
}

useDaemonHooks({ dirs: () => dirs, daemon: () => daemon, expectedLeft: recordedPoolVms });

interface Entry {
  id: string;
  state: string;
  pool?: boolean;
  vmName?: string;
  error?: string;
}

const POOL = { WARM_POOL_SIZE: "2" };

async function entries(): Promise<Entry[]> {
  return JSON.parse((await daemon!.probe("/debug/sandboxes")).body) as Entry[];
}
async function pool(): Promise<Entry[]> {
  return (await entries()).filter((e) => e.pool === true);
}
async function readyPool(): Promise<string[]> {
  return (await pool())
    .filter((e) => e.state === "ready")
    .map((e) => e.id)
    .sort();
}

async function until<T>(what: string, get: () => Promise<T>, ok: (v: T) => boolean, ms = 120_000): Promise<T> {
  const end = Date.now() + ms;
  let last: T | undefined;
  while (Date.now() < end) {
    last = await get();
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what}: still ${JSON.stringify(last)} after ${ms} ms\n${daemon?.logs().slice(-4000)}`);
}

const poolFull = (n = 2) => until("pool ready", readyPool, (r) => r.length === n);

async function metric(name: string): Promise<number> {
  const body = (await daemon!.probe("/metrics")).body;
  const line = body.split("\n").find((l) => l.startsWith(`${name} `));
  return line === undefined ? 0 : Number(line.slice(name.length + 1));
}

async function vmFolders(): Promise<string[]> {
  return (await fs.readdir(dirs!.vmsDir).catch(() => [] as string[])).sort();
}

async function echo(annotations: Record<string, string> = {}, id?: string): Promise<string> {
  const { status, out } = await echoPod(dirs!.socketPath, ["hello"], {
    annotations,
    sandboxId: id,
    startTimeoutMs: 120_000,
  });
  expect(status).toBe(0);
  return out;
}

const { create, start, stop } = hypervisorCalls(() => dirs!.socketPath, { startMs: 120_000 });
const died = () => new Promise((r) => (daemon!.child.exitCode === null ? daemon!.child.once("exit", r) : r(undefined)));

// Each test starts daemons and VMs several times: generous on a loaded machine.
describe("warm pool on the local provider", { timeout: 300_000 }, () => {
  it("fills, serves a pod from a booted VM (StartVM warm), deletes that VM at StopVM and refills", async () => {
    dirs = await makeDaemonDirs();
    daemon = await startDaemon(dirs, POOL);
    const before = await poolFull();
    expect(await vmFolders()).toEqual(before);
    expect(await metric('caa_warm_pool_vms{state="ready"}')).toBe(2);
    // The pool VMs carry this node's and cluster's marks with the pool's mark.
    const rec = JSON.parse(await fs.readFile(path.join(dirs.vmsDir, before[0]!, "vm.json"), "utf8")) as {
      owner: unknown;
    };
    expect(rec.owner).toEqual({ sandboxId: "_warm-pool", node: "test-node", cluster: await clusterMark(dirs) });

    expect(await echo()).toBe("hello\n");
    expect(await metric("caa_warm_pool_claims_total")).toBe(1);
    expect(await metric('caa_startvm_duration_seconds_count{path="warm"}')).toBe(1);
    expect(await metric('caa_startvm_duration_seconds_count{path="cold"}')).toBe(0);
    expect(await metric('caa_startvm_phase_seconds_count{phase="claim"}')).toBe(1);
    expect(daemon.logs()).toContain('"msg":"pool VM claimed"');
    // The claim's reply vouched for the agent: StartVM did not wait for the forwarder again.
    expect(daemon.logs()).toMatch(/"agentReady":true,"msg":"pool VM claimed"/);
    // The claimed VM is gone (StopVM), never back in the pool; a fresh one replaces it.
    const after = await poolFull();
    const claimed = before.filter((n) => !after.includes(n));
    expect(claimed).toHaveLength(1);
    expect(await until("claimed VM deleted", vmFolders, (v) => v.length === 2)).toEqual(after);
    expect((await entries()).filter((e) => e.pool !== true)).toEqual([]);
  });

  it("sends pods that do not fit cold, saying why, and leaves the pool alone", async () => {
    dirs = await makeDaemonDirs();
    daemon = await startDaemon(dirs, { ...POOL, WARM_POOL_INSTANCE_TYPE: "small" });
    const ready = await poolFull();
    expect(await echo({ [ANNOTATIONS.machineType]: "large" })).toBe("hello\n");
    expect(await echo({ [ANNOTATIONS.initdata]: 'version = "0.1.0"\nalgorithm = "sha256"\n[data]\n' })).toBe("hello\n");
    expect(await echo({ [ANNOTATIONS.vcpus]: "4" })).toBe("hello\n");
    expect(await metric('caa_warm_pool_misses_total{reason="instance_type"}')).toBe(1);
    expect(await metric('caa_warm_pool_misses_total{reason="initdata"}')).toBe(1);
    expect(await metric('caa_warm_pool_misses_total{reason="size"}')).toBe(1);
    expect(await metric('caa_startvm_duration_seconds_count{path="cold"}')).toBe(3);
    expect(await metric("caa_warm_pool_claims_total")).toBe(0);
    expect(await readyPool()).toEqual(ready);
    // A pod naming the pool's type fits.
    expect(await echo({ [ANNOTATIONS.machineType]: "small" })).toBe("hello\n");
    expect(await metric("caa_warm_pool_claims_total")).toBe(1);
  });

  it.each(["start-after-claim-record", "start-after-claim"])(
    "SIGKILL at %s: the restart deletes the claimed VM with the rolled-back start, never offers it again; the held StartVM then succeeds",
    async (failpoint) => {
      dirs = await makeDaemonDirs();
      daemon = await startDaemon(dirs, { ...POOL, CAA_TEST_FAILPOINT: failpoint });
      const before = await poolFull();
      await create("sb");
      const starting = start("sb"); // the daemon dies in the middle of it; the relay holds it
      await died();
      const taken = (
        JSON.parse(await fs.readFile(path.join(dirs.stateDir, "sandboxes", "sb.json"), "utf8")) as {
          vm: { name: string };
        }
      ).vm.name;
      expect(before).toContain(taken);
      daemon = await startDaemon(dirs, POOL);
      await starting;
      expect(daemon.logs()).toMatch(/"rolledBack":\["sb"\]/);
      const sb = (await entries()).find((e) => e.id === "sb");
      expect(sb).toMatchObject({ state: "running" });
      expect(sb!.vmName).not.toBe(taken);
      const after = await poolFull();
      expect(after).not.toContain(taken);
      expect((await vmFolders()).filter((n) => n === taken)).toEqual([]);
      expect(await vmFolders()).toEqual([...after, sb!.vmName!].sort());
      await stop("sb");
      expect(await vmFolders()).toEqual(after);
    },
  );

  it.each(["pool-after-intent", "pool-after-create"])(
    "SIGKILL at %s while pool VMs boot: the restart adopts them (same names, resumed), nothing leaks",
    async (failpoint) => {
      dirs = await makeDaemonDirs();
      // The daemon may die before or after it reports ready: the failpoint fires in the background.
      daemon = await startDaemon(dirs, { ...POOL, CAA_TEST_FAILPOINT: failpoint }).catch(() => undefined);
      if (daemon !== undefined) await died();
      const recorded = await recordedPoolVms(dirs);
      expect(recorded.length).toBeGreaterThanOrEqual(1);
      daemon = await startDaemon(dirs, POOL);
      const ready = await poolFull();
      for (const name of recorded) expect(ready).toContain(name); // resumed with the same name and token
      expect(await vmFolders()).toEqual(ready);
      expect(daemon.logs()).toContain('"how":"resume"');
    },
  );

  it("a restart adopts ready VMs without re-creating them; a lowered WARM_POOL_SIZE deletes the excess, 0 deletes all", async () => {
    dirs = await makeDaemonDirs();
    daemon = await startDaemon(dirs, { ...POOL, WARM_POOL_SIZE: "3" });
    const three = await poolFull(3);
    const pgids = async (names: string[]) =>
      Promise.all(
        names.map(
          async (n) =>
            (JSON.parse(await fs.readFile(path.join(dirs!.vmsDir, n, "vm.json"), "utf8")) as { pgid: number }).pgid,
        ),
      );
    const pids = await pgids(three);
    await daemon.kill(); // a crash: the pool VMs keep running
    daemon = await startDaemon(dirs, { ...POOL, WARM_POOL_SIZE: "3" });
    expect(await poolFull(3)).toEqual(three);
    expect(await pgids(three)).toEqual(pids); // the same VMs, not new ones
    expect(daemon.logs()).not.toContain('"msg":"pool VM deleted"');
    await daemon.stop();
    daemon = await startDaemon(dirs, { ...POOL, WARM_POOL_SIZE: "1" });
    const one = await poolFull(1);
    expect(three).toContain(one[0]);
    expect(await until("excess deleted", vmFolders, (v) => v.length === 1)).toEqual(one);
    await daemon.stop();
    daemon = await startDaemon(dirs, { WARM_POOL_SIZE: "0" });
    expect(await until("all deleted", vmFolders, (v) => v.length === 0)).toEqual([]);
    expect(await pool()).toEqual([]);
    expect(await fs.readdir(path.join(dirs.stateDir, "pool"))).toEqual([]);
    // Off: pods start cold and no miss is counted.
    expect(await echo()).toBe("hello\n");
    expect(await metric('caa_warm_pool_misses_total{reason="empty"}')).toBe(0);
    expect(await metric('caa_startvm_duration_seconds_count{path="cold"}')).toBe(1);
  });

  it("replaces a ready VM older than WARM_POOL_MAX_AGE (its minimum, 1m): new VMs, never more than the size, the old ones deleted", async () => {
    dirs = await makeDaemonDirs();
    daemon = await startDaemon(dirs, { ...POOL, WARM_POOL_MAX_AGE: "1m" });
    const first = await poolFull();
    // Booting and ready together never exceed WARM_POOL_SIZE while the old VMs are replaced.
    let most = 0;
    const replaced = await until(
      "pool VMs replaced after WARM_POOL_MAX_AGE",
      async () => {
        const now = await pool();
        most = Math.max(most, now.length);
        return now;
      },
      (p) => p.length === 2 && p.every((e) => e.state === "ready" && !first.includes(e.id)),
      180_000,
    );
    expect(most).toBeLessThanOrEqual(2);
    const second = replaced.map((e) => e.id).sort();
    expect(await metric('caa_warm_pool_vms{state="ready"}')).toBe(2);
    for (const name of first)
      expect(daemon.logs()).toContain(
        `"poolVm":"${name}","why":"older than WARM_POOL_MAX_AGE","msg":"pool VM deleted"`,
      );
    // The old VMs are gone, not merely forgotten: only the new ones run.
    expect(await until("old VMs deleted", vmFolders, (v) => v.length === 2)).toEqual(second);
    // The replacements serve pods like any pool VM.
    expect(await echo()).toBe("hello\n");
    expect(await metric("caa_warm_pool_claims_total")).toBe(1);
  });
});
