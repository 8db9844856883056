// The daemon on the vsphere provider against govmomi's simulator: clones get the address of a
// local VM booted from the clone's own user-data, so the forwarder and agent really answer.
import path from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runPod } from "../src/hypervisor/shim-driver.ts";
import { POOL_VM_NAME_PATTERN } from "../src/pool/index.ts";
import {
  cleanupDaemonDirs,
  type DaemonDirs,
  makeDaemonDirs,
  type RunningDaemon,
  startDaemon,
} from "./support/daemon-process.ts";
import {
  type LocalGuests,
  peerVms,
  simClient,
  startLocalGuests,
  startVcsim,
  type Vcsim,
  vsphereEnv,
} from "./support/vcsim.ts";
import { metricValue, pollUntil, readyPoolVms } from "./support/warm-pool-probe.ts";

let dirs: DaemonDirs;
let sim: Vcsim;
let guests: LocalGuests;
let daemon: RunningDaemon | undefined;

beforeAll(async () => {
  dirs = await makeDaemonDirs("caa-vsphere-");
  sim = await startVcsim();
  guests = startLocalGuests(simClient(sim), path.join(dirs.root, "guests"), pino({ level: "silent" }));
});

afterAll(async () => {
  if (daemon?.child.exitCode === null) await daemon.stop();
  await guests?.stop();
  await sim?.stop();
  if (dirs) expect(await cleanupDaemonDirs(dirs)).toEqual([]);
});

describe("cloud-api-adaptor on the vsphere provider", () => {
  it("runs a pod's whole life on a cloned VM and destroys it", async () => {
    const env = Object.fromEntries(
      Object.entries({ ...vsphereEnv(sim), CLOUD_PROVIDER: "vsphere" }).filter(
        (kv): kv is [string, string] => kv[1] !== undefined,
      ),
    );
    daemon = await startDaemon(dirs, env);
    let out = "";
    const status = await runPod({
      socketPath: dirs.socketPath,
      command: ["echo", "from vsphere"],
      stdout: (c) => (out += Buffer.from(c).toString()),
      stderr: () => {},
    });
    expect({ status, out }).toEqual({ status: 0, out: "from vsphere\n" });
    expect(guests.booted.size).toBe(1);
    expect((await peerVms(simClient(sim), AbortSignal.timeout(10_000))).size).toBe(0);
  }, 120_000);

  it("warm pool: a pool clone boots and waits, a pod claims it, a SIGKILLed daemon's successor adopts the refill without cloning, WARM_POOL_SIZE=0 destroys it", async () => {
    const env = Object.fromEntries(
      Object.entries({ ...vsphereEnv(sim), CLOUD_PROVIDER: "vsphere", WARM_POOL_SIZE: "1" }).filter(
        (kv): kv is [string, string] => kv[1] !== undefined,
      ),
    );
    const vms = async () => [...(await peerVms(simClient(sim), AbortSignal.timeout(10_000))).keys()].sort();
    daemon = await startDaemon(dirs, env);
    const d1 = daemon;
    const [first] = await pollUntil(
      "a ready pool VM",
      () => readyPoolVms(d1),
      (r) => r.length === 1,
      d1,
    );
    expect(first).toMatch(POOL_VM_NAME_PATTERN);
    expect(await vms()).toEqual([first]);
    let out = "";
    const status = await runPod({
      socketPath: dirs.socketPath,
      command: ["echo", "warm"],
      stdout: (c) => (out += Buffer.from(c).toString()),
      stderr: () => {},
    });
    expect({ status, out }).toEqual({ status: 0, out: "warm\n" });
    expect(await metricValue(d1, "caa_warm_pool_claims_total")).toBe(1);
    const [second] = await pollUntil(
      "refilled",
      () => readyPoolVms(d1),
      (r) => r.length === 1 && r[0] !== first,
      d1,
    );
    expect(await vms()).toEqual([second]); // the claimed one destroyed with its pod
    const booted = guests.booted.size;
    await daemon.kill(); // a crash: the pool VM keeps running
    daemon = await startDaemon(dirs, env);
    const d2 = daemon;
    expect(
      await pollUntil(
        "adopted",
        () => readyPoolVms(d2),
        (r) => r.length === 1,
        d2,
      ),
    ).toEqual([second]);
    expect(guests.booted.size).toBe(booted); // adopted, not cloned anew
    await daemon.stop();
    daemon = await startDaemon(dirs, { ...env, WARM_POOL_SIZE: "0" });
    await pollUntil("destroyed", vms, (l) => l.length === 0, daemon);
  }, 300_000);
});
