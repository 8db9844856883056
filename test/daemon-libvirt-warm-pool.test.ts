// The warm pool on the libvirt provider against the system libvirtd: a pool VM (the test image
// booted under QEMU emulation) boots with the pool's user-data and waits; a pod that runs
// `echo hello` through the daemon claims it (StartVM warm) and StopVM deletes it; a restart
// with WARM_POOL_SIZE=0 deletes the refilled one. Afterwards no domain, volume or lease of these
// VMs may remain.
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { startDaemon } from "./support/daemon-process.ts";
import { echoPod } from "./support/hypervisor-calls.ts";
import { useLibvirtDaemonBed } from "./support/libvirt-daemon-bed.ts";
import { leftovers, preparePeerVmHost, removeAll } from "./support/libvirt-host.ts";
import { metricValue, type PoolEntry, pollUntil, poolEntries as poolEntriesOf } from "./support/warm-pool-probe.ts";

const run = randomBytes(3).toString("hex");
/** Every pool VM this test saw, for the final check and for clean-up after a failure. */
const seen = new Set<string>();
const bed = useLibvirtDaemonBed({
  dirsPrefix: "caa-lvpool-",
  prepare: preparePeerVmHost,
  removeLeft: async (client) => {
    for (const f of await fs.readdir(path.join(bed.dirs.stateDir, "pool")).catch(() => [] as string[]))
      if (f.endsWith(".json") && !f.startsWith(".")) seen.add(f.slice(0, -5));
    for (const name of seen) await removeAll(client, name);
  },
});

// A node name of this run: the daemon lists (and may delete) only VMs marked with it.
const env = (size: string) => ({
  ...bed.host.env(),
  CLOUD_PROVIDER: "libvirt",
  NODE_NAME: `lvpool-${run}`,
  WARM_POOL_SIZE: size,
});
const nothing = { domains: [], volumes: [], leases: [] };

async function poolEntries(): Promise<PoolEntry[]> {
  const list = await poolEntriesOf(bed.daemon!);
  for (const e of list) seen.add(e.id);
  return list;
}

const until = <T>(what: string, get: () => Promise<T>, ok: (v: T) => boolean, ms: number) =>
  pollUntil(what, get, ok, bed.daemon, ms);
const metric = (name: string) => metricValue(bed.daemon!, name);

describe("warm pool on the libvirt provider", () => {
  it("boots a pool VM, then a pod running `echo hello` claims it; StopVM deletes it; WARM_POOL_SIZE=0 deletes the rest", async () => {
    bed.daemon = await startDaemon(bed.dirs, env("1"));
    const [ready] = await until("a ready pool VM", poolEntries, (l) => l.some((e) => e.state === "ready"), 300_000);
    const claimed = ready!.id;
    expect(await leftovers(bed.client, claimed)).toMatchObject({ domains: [expect.stringContaining(claimed)] });

    expect(await echoPod(bed.dirs.socketPath, ["hello"], { startTimeoutMs: 240_000 })).toEqual({
      status: 0,
      out: "hello\n",
    });
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
        () => leftovers(bed.client, claimed),
        (l) => l.domains.length + l.volumes.length + l.leases.length === 0,
        30_000,
      ),
    ).toEqual(nothing);
    expect((await poolEntries()).map((e) => e.id)).not.toContain(claimed);

    await bed.daemon.stop();
    bed.daemon = await startDaemon(bed.dirs, env("0"));
    await until("pool emptied", poolEntries, (l) => l.length === 0, 60_000);
    for (const name of seen) {
      expect(
        await until(
          `${name} deleted`,
          () => leftovers(bed.client, name),
          (l) => l.domains.length + l.volumes.length + l.leases.length === 0,
          60_000,
        ),
      ).toEqual(nothing);
    }
    expect(seen.size).toBeGreaterThanOrEqual(2); // the claimed VM and its replacement
  }, 900_000);
});
