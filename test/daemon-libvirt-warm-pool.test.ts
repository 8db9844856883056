// The warm pool on the libvirt provider against the system libvirtd: a pool VM (the test image
// booted under QEMU emulation) boots with the pool's user-data and waits; a pod that runs
// `echo hello` through the daemon claims it (StartVM warm) and StopVM deletes it; a restart
// with WARM_POOL_SIZE=0 deletes the refilled one. Afterwards no domain, volume or lease of these
// VMs may remain.
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LibvirtClient } from "../providers/libvirt/rpc/index.ts";
import { runPod } from "../src/hypervisor/shim-driver.ts";
import {
  cleanupDaemonDirs,
  type DaemonDirs,
  makeDaemonDirs,
  type RunningDaemon,
  startDaemon,
} from "./support/daemon-process.ts";
import {
  acquireLibvirtDaemons,
  leftovers,
  type PeerVmHost,
  preparePeerVmHost,
  removeAll,
  SYSTEM_URI,
} from "./support/libvirt-host.ts";

const run = randomBytes(3).toString("hex");
let dirs: DaemonDirs;
let daemon: RunningDaemon | undefined;
let daemons: { release(): Promise<void> };
let client: LibvirtClient;
let host: PeerVmHost;
/** Every pool VM this test saw, for the final check and for clean-up after a failure. */
const seen = new Set<string>();

beforeAll(async () => {
  daemons = await acquireLibvirtDaemons();
  client = await LibvirtClient.connect(SYSTEM_URI);
  host = await preparePeerVmHost(client);
  dirs = await makeDaemonDirs("caa-lvpool-");
}, 600_000);

afterAll(async () => {
  if (daemon?.child.exitCode === null) await daemon.kill();
  for (const f of await fs.readdir(path.join(dirs.stateDir, "pool")).catch(() => [] as string[]))
    if (f.endsWith(".json") && !f.startsWith(".")) seen.add(f.slice(0, -5));
  if (client) for (const name of seen) await removeAll(client, name);
  await client?.close();
  await daemons?.release();
  if (dirs) expect(await cleanupDaemonDirs(dirs)).toEqual([]);
});

// A node name of this run: the daemon lists (and may delete) only VMs marked with it.
const env = (size: string) => ({
  ...host.env(),
  CLOUD_PROVIDER: "libvirt",
  NODE_NAME: `lvpool-${run}`,
  WARM_POOL_SIZE: size,
});
const nothing = { domains: [], volumes: [], leases: [] };

interface Entry {
  id: string;
  state: string;
  pool?: boolean;
}

async function poolEntries(): Promise<Entry[]> {
  const list = (JSON.parse((await daemon!.probe("/debug/sandboxes")).body) as Entry[]).filter((e) => e.pool === true);
  for (const e of list) seen.add(e.id);
  return list;
}

async function until<T>(what: string, get: () => Promise<T>, ok: (v: T) => boolean, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await get();
    if (ok(v)) return v;
    if (Date.now() > end)
      throw new Error(`${what}: still ${JSON.stringify(v)} after ${ms} ms\n${daemon?.logs().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function metric(name: string): Promise<number> {
  const line = (await daemon!.probe("/metrics")).body.split("\n").find((l) => l.startsWith(name + " "));
  return line === undefined ? 0 : Number(line.slice(name.length + 1));
}

describe("warm pool on the libvirt provider", () => {
  it("boots a pool VM, then a pod running `echo hello` claims it; StopVM deletes it; WARM_POOL_SIZE=0 deletes the rest", async () => {
    daemon = await startDaemon(dirs, env("1"));
    const [ready] = await until("a ready pool VM", poolEntries, (l) => l.some((e) => e.state === "ready"), 300_000);
    const claimed = ready!.id;
    expect(await leftovers(client, claimed)).toMatchObject({ domains: [expect.stringContaining(claimed)] });

    let out = "";
    const status = await runPod({
      socketPath: dirs.socketPath,
      command: ["echo", "hello"],
      startTimeoutMs: 240_000,
      stdout: (c) => (out += Buffer.from(c).toString()),
      stderr: () => {},
    });
    expect({ status, out }).toEqual({ status: 0, out: "hello\n" });
    expect(await metric("caa_warm_pool_claims_total")).toBe(1);
    expect(await metric('caa_startvm_duration_seconds_count{path="warm"}')).toBe(1);
    expect(await metric('caa_startvm_duration_seconds_count{path="cold"}')).toBe(0);
    // The VM's console: its forwarder waited as a pool VM, took the claim, then served the pod.
    const console = await fs.readFile(`/var/log/libvirt/qemu/${claimed}-console.log`, "utf8");
    expect(console).toMatch(/"msg":"pool VM waiting to be claimed"/);
    expect(console).toMatch(/"msg":"pool VM claimed"/);
    // Single use: gone with its pod (dnsmasq may take a few seconds to drop the lease).
    expect(
      await until(
        "claimed VM gone",
        () => leftovers(client, claimed),
        (l) => l.domains.length + l.volumes.length + l.leases.length === 0,
        30_000,
      ),
    ).toEqual(nothing);
    expect((await poolEntries()).map((e) => e.id)).not.toContain(claimed);

    await daemon.stop();
    daemon = await startDaemon(dirs, env("0"));
    await until("pool emptied", poolEntries, (l) => l.length === 0, 60_000);
    for (const name of seen) {
      expect(
        await until(
          `${name} deleted`,
          () => leftovers(client, name),
          (l) => l.domains.length + l.volumes.length + l.leases.length === 0,
          60_000,
        ),
      ).toEqual(nothing);
    }
    expect(seen.size).toBeGreaterThanOrEqual(2); // the claimed VM and its replacement
  }, 900_000);
});
