// The daemon on the vsphere provider against govmomi's simulator: clones get the address of a
// local VM booted from the clone's own user-data, so the forwarder and agent really answer.
import path from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runPod } from "../src/hypervisor/shim-driver.ts";
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
});
