// The daemon on the libvirt provider against the system libvirtd: a pod's whole life on a
// real peer VM (the test image booted under QEMU emulation, its forwarder reached over mutual
// TLS, the minimal agent running the container), a SIGKILL of the daemon in the middle of a
// create, and a start-up that names a missing pool. Afterwards no domain, volume or DHCP
// lease of these VMs may remain.
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { vmNameFor } from "../src/sandbox/vm-name.ts";
import { Code } from "../src/ttrpc/index.ts";
import { clusterMark, debugSandboxes, startDaemon } from "./support/daemon-process.ts";
import { echoPod, hypervisorCalls } from "./support/hypervisor-calls.ts";
import { useLibvirtDaemonBed } from "./support/libvirt-daemon-bed.ts";
import { leftovers, preparePeerVmHost, removeAll } from "./support/libvirt-host.ts";

const run = randomBytes(3).toString("hex");
const bed = useLibvirtDaemonBed({
  dirsPrefix: "caa-libvirt-",
  prepare: preparePeerVmHost,
  // What a failed test may have left running, before the daemons go.
  removeLeft: (client) => removeAll(client, `podvm-lv${run}`),
});

const env = (extra: Record<string, string> = {}) => ({ ...bed.host.env(), CLOUD_PROVIDER: "libvirt", ...extra });
const { create, startDying, stop } = hypervisorCalls(() => bed.dirs.socketPath, { startMs: 240_000, dyingMs: 30_000 });
const nothing = { domains: [], volumes: [], leases: [] };

describe("cloud-api-adaptor on the libvirt provider", () => {
  it("runs a pod's whole life on a libvirt VM and leaves no domain, volume or lease", async () => {
    bed.daemon = await startDaemon(bed.dirs, env());
    const id = `lv${run}p${randomBytes(8).toString("hex")}`;
    const vmName = vmNameFor({ sandboxId: id, node: "test-node", cluster: await clusterMark(bed.dirs) }, undefined);
    expect(await echoPod(bed.dirs.socketPath, ["from libvirt"], { sandboxId: id, startTimeoutMs: 240_000 })).toEqual({
      status: 0,
      out: "from libvirt\n",
    });
    expect(bed.daemon.logs()).toContain('"msg":"peer VM has its address"');
    // The VM's console shows its forwarder served the agent protocol with mutual TLS.
    const console = await fs.readFile(`/var/log/libvirt/qemu/${vmName}-console.log`, "utf8");
    expect(console).toMatch(/"msg":"forwarder listening"/);
    expect(console).toMatch(/"tls":true/);
    expect(await leftovers(bed.client, vmName)).toEqual(nothing);
  }, 360_000);

  it("after a SIGKILL in the middle of a create, the restarted daemon finds the domain by its metadata and removes it", async () => {
    bed.daemon = await startDaemon(bed.dirs, env());
    const id = `lv${run}k${randomBytes(8).toString("hex")}`;
    const vmName = vmNameFor({ sandboxId: id, node: "test-node", cluster: await clusterMark(bed.dirs) }, undefined);
    await create(id);
    const starting = startDying(id);
    // Killed while the VM boots: the domain runs, its volumes exist, no lease yet.
    let running = false;
    for (let i = 0; i < 600 && !running; i++) {
      const dom = (await bed.client.listAllDomains(1)).find((d) => d.name === vmName);
      running = dom !== undefined;
      if (!running) await new Promise((r) => setTimeout(r, 25));
    }
    expect(running).toBe(true);
    await bed.daemon.kill();
    // No control plane: peerpod-relay holds the shim's StartVM until its deadline, then fails it.
    expect(await starting).toMatchObject({ code: Code.DEADLINE_EXCEEDED });
    expect(await leftovers(bed.client, vmName)).toMatchObject({
      domains: [expect.stringContaining(vmName)],
      volumes: [`${vmName}-cidata.img`, `${vmName}.qcow2`],
    });

    bed.daemon = await startDaemon(bed.dirs, env());
    for (let i = 0; i < 600; i++) {
      const left = await leftovers(bed.client, vmName);
      if (left.domains.length === 0 && left.volumes.length === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await leftovers(bed.client, vmName)).toEqual(nothing);
    expect(await debugSandboxes(bed.daemon.probePort)).toEqual(
      expect.arrayContaining([expect.objectContaining({ id, state: "failed" })]),
    );
    await stop(id);
  }, 240_000);

  it("refuses to start when the pool is missing, naming it", async () => {
    await expect(startDaemon(bed.dirs, env({ LIBVIRT_POOL: `caa-missing-${run}` }))).rejects.toThrow(
      new RegExp(`LIBVIRT_POOL=caa-missing-${run}: no storage pool of that name`),
    );
  });
});
