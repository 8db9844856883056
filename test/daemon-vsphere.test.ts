// The daemon on the vsphere provider against govmomi's simulator: clones get the address of a
// local VM booted from the clone's own user-data, so the forwarder and agent really answer.
import path from "node:path";
import pino from "pino";
import { beforeAll, describe, expect, it } from "vitest";
import { POOL_VM_NAME_PATTERN } from "../src/pool/index.ts";
import { useDaemonHooks } from "./support/daemon-hooks.ts";
import { type DaemonDirs, makeDaemonDirs, type RunningDaemon, startDaemon } from "./support/daemon-process.ts";
import { echoPod } from "./support/hypervisor-calls.ts";
import {
  type LocalGuests,
  peerVms,
  simClient,
  startLocalGuests,
  startVcsim,
  type Vcsim,
  vsphereEnv,
} from "./support/vcsim.ts";
import { runWarmPoolScenario } from "./support/warm-pool-scenario.ts";

let dirs: DaemonDirs;
let sim: Vcsim;
let guests: LocalGuests;
let daemon: RunningDaemon | undefined;

beforeAll(async () => {
  dirs = await makeDaemonDirs("caa-vsphere-");
  sim = await startVcsim();
  guests = startLocalGuests(simClient(sim), path.join(dirs.root, "guests"), pino({ level: "silent" }));
});

useDaemonHooks({
  dirs: () => dirs,
  daemon: () => daemon,
  dirsPer: "file",
  afterFile: async () => {
    await guests?.stop();
    await sim?.stop();
  },
});

const env = (extra: Record<string, string> = {}) =>
  Object.fromEntries(
    Object.entries({ ...vsphereEnv(sim), CLOUD_PROVIDER: "vsphere", ...extra }).filter(
      (kv): kv is [string, string] => kv[1] !== undefined,
    ),
  );

describe("cloud-api-adaptor on the vsphere provider", () => {
  it("runs a pod's whole life on a cloned VM and destroys it", async () => {
    daemon = await startDaemon(dirs, env());
    expect(await echoPod(dirs.socketPath, ["from vsphere"])).toEqual({ status: 0, out: "from vsphere\n" });
    expect(guests.booted.size).toBe(1);
    expect((await peerVms(simClient(sim), AbortSignal.timeout(10_000))).size).toBe(0);
  }, 120_000);

  it("warm pool: a pool clone boots and waits, a pod claims it, a SIGKILLed daemon's successor adopts the refill without cloning, WARM_POOL_SIZE=0 destroys it", async () => {
    const vms = async () => [...(await peerVms(simClient(sim), AbortSignal.timeout(10_000))).keys()].sort();
    await runWarmPoolScenario({
      dirs,
      size: 1,
      env: (size) => env({ WARM_POOL_SIZE: String(size) }),
      started: (d) => (daemon = d),
      poolVms: vms,
      checkPool: async ([first]) => {
        expect(first).toMatch(POOL_VM_NAME_PATTERN);
        expect(await vms()).toEqual([first]);
      },
      // The claimed one destroyed with its pod.
      checkRefilled: async (ready) => expect(await vms()).toEqual(ready),
      launches: () => guests.booted.size,
      leftovers: vms,
      nothingLeft: (l) => l.length === 0,
    });
  }, 300_000);
});
