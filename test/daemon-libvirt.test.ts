// The daemon on the libvirt provider against the system libvirtd: a pod's whole life on a
// real peer VM (the test image booted under QEMU emulation, its forwarder reached over mutual
// TLS, the minimal agent running the container), a SIGKILL of the daemon in the middle of a
// create, and a start-up that names a missing pool. Afterwards no domain, volume or DHCP
// lease of these VMs may remain.
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { LibvirtClient } from "../providers/libvirt/rpc/index.ts";
import { Hypervisor } from "../src/gen/hypervisor_pb.js";
import { onHypervisor, runPod } from "../src/hypervisor/shim-driver.ts";
import { vmNameFor } from "../src/sandbox/vm-name.ts";
import { Code } from "../src/ttrpc/index.ts";
import {
  cleanupDaemonDirs,
  clusterMark,
  type DaemonDirs,
  debugSandboxes,
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

const h = Hypervisor.method;
const run = randomBytes(3).toString("hex");
let dirs: DaemonDirs;
let daemon: RunningDaemon | undefined;
let daemons: { release(): Promise<void> };
let client: LibvirtClient;
let host: PeerVmHost;

beforeAll(async () => {
  daemons = await acquireLibvirtDaemons();
  client = await LibvirtClient.connect(SYSTEM_URI);
  host = await preparePeerVmHost(client);
  dirs = await makeDaemonDirs("caa-libvirt-");
}, 600_000);

afterEach(async () => {
  if (daemon?.child.exitCode === null) await daemon.stop();
  daemon = undefined;
});

afterAll(async () => {
  // What a failed test may have left running, before the daemons go.
  if (client) await removeAll(client, `podvm-lv${run}`);
  await client?.close();
  await daemons?.release();
  if (dirs) expect(await cleanupDaemonDirs(dirs)).toEqual([]);
});

const env = (extra: Record<string, string> = {}) => ({ ...host.env(), CLOUD_PROVIDER: "libvirt", ...extra });
const create = (id: string) =>
  onHypervisor(dirs.socketPath, (c) => c.call(h.createVM, { id, annotations: {}, networkNamespacePath: "" }));
const start = (id: string) => onHypervisor(dirs.socketPath, (c) => c.call(h.startVM, { id }, { timeoutMs: 240_000 }));
// A StartVM the daemon dies in: the relay holds it while no daemon is there, until its deadline.
const startDying = (id: string) =>
  onHypervisor(dirs.socketPath, (c) => c.call(h.startVM, { id }, { timeoutMs: 30_000 })).catch((e: unknown) => e);
const stop = (id: string) => onHypervisor(dirs.socketPath, (c) => c.call(h.stopVM, { id }));
const nothing = { domains: [], volumes: [], leases: [] };

describe("cloud-api-adaptor on the libvirt provider", () => {
  it("runs a pod's whole life on a libvirt VM and leaves no domain, volume or lease", async () => {
    daemon = await startDaemon(dirs, env());
    const id = `lv${run}p${randomBytes(8).toString("hex")}`;
    const vmName = vmNameFor({ sandboxId: id, node: "test-node", cluster: await clusterMark(dirs) }, undefined);
    let out = "";
    const status = await runPod({
      socketPath: dirs.socketPath,
      sandboxId: id,
      command: ["echo", "from libvirt"],
      startTimeoutMs: 240_000,
      stdout: (c) => (out += Buffer.from(c).toString()),
      stderr: () => {},
    });
    expect({ status, out }).toEqual({ status: 0, out: "from libvirt\n" });
    expect(daemon.logs()).toContain('"msg":"peer VM has its address"');
    // The VM's console shows its forwarder served the agent protocol with mutual TLS.
    const console = await fs.readFile(`/var/log/libvirt/qemu/${vmName}-console.log`, "utf8");
    expect(console).toMatch(/"msg":"forwarder listening"/);
    expect(console).toMatch(/"tls":true/);
    expect(await leftovers(client, vmName)).toEqual(nothing);
  }, 360_000);

  it("after a SIGKILL in the middle of a create, the restarted daemon finds the domain by its metadata and removes it", async () => {
    daemon = await startDaemon(dirs, env());
    const id = `lv${run}k${randomBytes(8).toString("hex")}`;
    const vmName = vmNameFor({ sandboxId: id, node: "test-node", cluster: await clusterMark(dirs) }, undefined);
    await create(id);
    const starting = startDying(id);
    // Killed while the VM boots: the domain runs, its volumes exist, no lease yet.
    let running = false;
    for (let i = 0; i < 600 && !running; i++) {
      const dom = (await client.listAllDomains(1)).find((d) => d.name === vmName);
      running = dom !== undefined;
      if (!running) await new Promise((r) => setTimeout(r, 25));
    }
    expect(running).toBe(true);
    await daemon.kill();
    // No control plane: peerpod-relay holds the shim's StartVM until its deadline, then fails it.
    expect(await starting).toMatchObject({ code: Code.DEADLINE_EXCEEDED });
    expect(await leftovers(client, vmName)).toMatchObject({
      domains: [expect.stringContaining(vmName)],
      volumes: [`${vmName}-cidata.img`, `${vmName}.qcow2`],
    });

    daemon = await startDaemon(dirs, env());
    for (let i = 0; i < 600; i++) {
      const left = await leftovers(client, vmName);
      if (left.domains.length === 0 && left.volumes.length === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await leftovers(client, vmName)).toEqual(nothing);
    expect(await debugSandboxes(daemon.probePort)).toEqual(
      expect.arrayContaining([expect.objectContaining({ id, state: "failed" })]),
    );
    await stop(id);
  }, 240_000);

  it("refuses to start when the pool is missing, naming it", async () => {
    await expect(startDaemon(dirs, env({ LIBVIRT_POOL: `caa-missing-${run}` }))).rejects.toThrow(
      new RegExp(`LIBVIRT_POOL=caa-missing-${run}: no storage pool of that name`),
    );
  });
});
