// The libvirt provider against the system libvirtd (QEMU emulation): start-up checks, a VM
// that boots the test image from its copy-on-write disk, reads its cidata volume and gets a
// DHCP lease, reuse by token, a connection lost mid-create, a VM that never gets an address,
// and domains that are not ours. Every test ends with nothing of it left in libvirt.
import { randomBytes } from "node:crypto";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildUserData } from "../../src/userdata/index.ts";
import { actOnForeignVm, foreignOwners } from "../../test/support/foreign-vm-survival.ts";
import {
  type LibvirtTestHost,
  leftovers,
  openLibvirtTestHost,
  type PeerVmHost,
  removeAll,
  SYSTEM_SOCKET,
  SYSTEM_URI,
  TEST_POOL,
} from "../../test/support/libvirt-host.ts";
import { startSocketProxy } from "../../test/support/libvirt-socket-proxy.ts";
import { canConnect } from "../../test/support/tcp-probe.ts";
import { type CreateVmRequest, NO_RESOURCES, ProviderError, type ResourceRequest } from "../provider.ts";
import { libvirtProviderConfig } from "./config.ts";
import { ownershipMetadataXml } from "./ownership-metadata.ts";
import { LibvirtProvider } from "./provider.ts";
import { type LibvirtClient, uuidString } from "./rpc/index.ts";
import { rawVolumeXml, vmVolumeNames } from "./volume-xml.ts";

const prefix = `podvm-t${randomBytes(2).toString("hex")}`;
const owner = { node: "node-lv", cluster: "cluster-lv" };
const logger = pino({ level: "silent" });
let lab: LibvirtTestHost | undefined;
let client: LibvirtClient;
let host: PeerVmHost;
const providers: LibvirtProvider[] = [];

function provider(extra: Record<string, string> = {}): LibvirtProvider {
  const p = new LibvirtProvider(libvirtProviderConfig(host.env(extra)), { logger, leasePollMs: 500 });
  providers.push(p);
  return p;
}

function request(suffix: string, token = "token-1", resources: ResourceRequest = NO_RESOURCES): CreateVmRequest {
  const sandboxId = `${prefix}-${suffix}`;
  return {
    name: `${prefix}-${suffix}`,
    token,
    owner: { ...owner, sandboxId },
    resources,
    userData: buildUserData({ version: 1, sandboxId, listenPort: 15150, tls: undefined, podNetwork: undefined }),
  };
}

/** Nothing named `name...` (or holding one of `macs`) is left: no domain, volume or lease. */
async function nothingLeft(name: string, macs: string[] = []): Promise<void> {
  // dnsmasq drops a released lease from libvirt's list a little after the guest is gone; on a
  // loaded machine that took longer than 15 s, so allow a minute (the test's own limit is 7).
  for (let i = 0; i < 300 && (await leftovers(client, name, macs)).leases.length > 0; i++)
    await new Promise((r) => setTimeout(r, 200));
  expect(await leftovers(client, name, macs)).toEqual({ domains: [], volumes: [], leases: [] });
}

beforeAll(async () => {
  lab = await openLibvirtTestHost();
  ({ client, host } = lab);
}, 600_000);

afterAll(async () => {
  for (const p of providers) await p.close();
  // What a failed test may have left running, before the daemons go.
  if (lab) await removeAll(lab.client, prefix);
  await lab?.release();
});

describe("libvirt provider start-up check", () => {
  it("passes on a prepared host", async () => {
    await expect(provider().check(AbortSignal.timeout(20_000))).resolves.toBeUndefined();
  });

  it("names every missing pool, base volume and network at once", async () => {
    const err = await provider({ LIBVIRT_POOL: `${prefix}-nopool`, LIBVIRT_NET: `${prefix}-nonet` })
      .check(AbortSignal.timeout(20_000))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as Error).message).toContain(`LIBVIRT_POOL=${prefix}-nopool: no storage pool of that name`);
    expect((err as Error).message).toContain(`LIBVIRT_NET=${prefix}-nonet: no network of that name`);
    await expect(
      provider({ LIBVIRT_VOL_NAME: `${prefix}-none.qcow2` }).check(AbortSignal.timeout(20_000)),
    ).rejects.toThrow(`LIBVIRT_VOL_NAME=${prefix}-none.qcow2: no volume of that name in storage pool ${TEST_POOL}`);
  });

  it("names an unreachable daemon", async () => {
    await expect(
      provider({ LIBVIRT_URI: `qemu+unix:///system?socket=/tmp/${prefix}-missing.sock` }).check(
        AbortSignal.timeout(20_000),
      ),
    ).rejects.toThrow(/cannot connect to libvirt at LIBVIRT_URI=qemu\+unix:.*is libvirtd running/);
  });
});

describe("libvirt provider", () => {
  it("refuses pods asking for more than the limits allow, for GPUs or for a missing image, leaving nothing behind", async () => {
    const p = provider({ LIBVIRT_MAX_CPU: "4", LIBVIRT_MAX_MEMORY: "2048" });
    const signal = AbortSignal.timeout(10_000);
    await expect(p.createVm(request("big", "t", { ...NO_RESOURCES, vcpus: 8 }), signal)).rejects.toThrow(
      /8 vCPUs.*LIBVIRT_MAX_CPU allows 4/,
    );
    await expect(p.createVm(request("big", "t", { ...NO_RESOURCES, memoryMiB: 4096 }), signal)).rejects.toThrow(
      /4096 MiB.*LIBVIRT_MAX_MEMORY allows 2048/,
    );
    await expect(p.createVm(request("big", "t", { ...NO_RESOURCES, gpus: 1 }), signal)).rejects.toThrow(/GPU/);
    await nothingLeft(`${prefix}-big`);
    // An image annotation naming no volume fails before anything is made.
    await expect(
      p.createVm(request("noimage", "t", { ...NO_RESOURCES, image: `${prefix}-none.qcow2` }), signal),
    ).rejects.toThrow(
      `annotation io.katacontainers.config.hypervisor.image=${prefix}-none.qcow2: no volume of that name in storage pool ${TEST_POOL}`,
    );
    await nothingLeft(`${prefix}-noimage`);
  });

  it("boots a VM from its overlay disk and cidata volume, finds it again by token, lists it and deletes all of it", async () => {
    const p = provider();
    const req = request("life");
    const vm = await p.createVm(req, AbortSignal.timeout(240_000));
    expect(vm).toMatchObject({
      name: req.name,
      owner: req.owner,
      address: expect.stringMatching(/^192\.168\.122\.\d+$/),
    });
    const mac = vm.details!.mac!;
    const xml = await client.getDomainXml(await client.lookupDomainByName(req.name));
    expect(xml).toContain(`<mac address='${mac}'/>`);
    expect(xml).toContain("peerpods.sandbox-id=");
    expect(xml).toMatch(/<domain type='qemu'/);
    // The forwarder listening proves the VM read its configuration from the cidata volume.
    let listening = false;
    for (let i = 0; i < 120 && !listening; i++) {
      listening = await canConnect(vm.address!, 15150, 2000);
      if (!listening) await new Promise((r) => setTimeout(r, 1000));
    }
    expect(listening).toBe(true);

    // A retried create (lost answer, restart) with the same token gets the same VM.
    const again = await p.createVm(req, AbortSignal.timeout(60_000));
    expect(again).toMatchObject({ id: vm.id, address: vm.address });
    expect((await client.listAllDomains()).filter((d) => d.name === req.name)).toHaveLength(1);

    const listed = await p.listOwnedVms(owner, AbortSignal.timeout(20_000));
    expect(listed.filter((v) => v.name.startsWith(prefix))).toEqual([
      expect.objectContaining({ id: vm.id, name: req.name, address: vm.address, owner: req.owner }),
    ]);
    expect(
      (await p.listOwnedVms({ ...owner, node: "other-node" }, AbortSignal.timeout(20_000))).filter((v) =>
        v.name.startsWith(prefix),
      ),
    ).toEqual([]);

    await p.deleteVm({ id: vm.id, name: vm.name, owner: vm.owner }, AbortSignal.timeout(60_000));
    // The guest released its lease at the ACPI shutdown.
    await nothingLeft(req.name, [mac]);
    await p.deleteVm({ id: vm.id, name: vm.name, owner: vm.owner }, AbortSignal.timeout(20_000));
    await p.deleteVm({ id: undefined, name: vm.name, owner: vm.owner }, AbortSignal.timeout(20_000));
  }, 420_000);

  it("fails a create whose libvirt connection drops, and a retry with the same token reuses the domain", async () => {
    const proxy = await startSocketProxy(SYSTEM_SOCKET, { path: `/tmp/${prefix}-cut.sock` });
    try {
      const p = provider({ LIBVIRT_URI: `qemu+unix:///system?socket=/tmp/${prefix}-cut.sock` });
      const req = request("cut", "token-cut");
      const creating = p.createVm(req, AbortSignal.timeout(240_000)).catch((e: unknown) => e);
      let dom;
      for (let i = 0; i < 400 && dom === undefined; i++) {
        const d = await client.lookupDomainByName(req.name).catch(() => undefined);
        if (d !== undefined && (await client.isDomainActive(d))) dom = d;
        else await new Promise((r) => setTimeout(r, 50));
      }
      expect(dom).toBeDefined();
      proxy.cut({ refuse: true });
      const err = await creating;
      expect(err).toBeInstanceOf(ProviderError);
      expect(err).toMatchObject({
        retryable: true,
        message: expect.stringMatching(
          new RegExp(`for ${req.name}: connection to libvirt \\(unix socket /tmp/${prefix}-cut.sock\\)`),
        ),
      });
      // The daemon is back: the same provider reconnects, and the retry finds the VM.
      proxy.cut({ refuse: false });
      const vm = await p.createVm(req, AbortSignal.timeout(240_000));
      expect(vm.id).toBe(uuidString(dom!.uuid));
      await p.deleteVm({ id: vm.id, name: vm.name, owner: vm.owner }, AbortSignal.timeout(60_000));
      await nothingLeft(req.name, [vm.details!.mac!]);
    } finally {
      await proxy.close();
    }
  }, 420_000);

  it("gives a clear error for a VM that never gets an address, and its delete leaves nothing", async () => {
    const p = provider({
      LIBVIRT_CMDLINE: "console=ttyS0 quiet peerpod.nonet=1",
      LIBVIRT_ADDRESS_TIMEOUT: "20s",
      LIBVIRT_SHUTDOWN_GRACE: "0s",
    });
    const req = request("nonet");
    const err = await p.createVm(req, AbortSignal.timeout(120_000)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as Error).message).toMatch(
      new RegExp(
        `peer VM ${req.name} \\(MAC [0-9a-f:]+\\) got no DHCP lease on network default within 20s \\(LIBVIRT_ADDRESS_TIMEOUT\\)`,
      ),
    );
    expect((err as Error).message).toContain(`console log: /var/log/libvirt/qemu/${req.name}-console.log`);
    await p.deleteVm({ id: undefined, name: req.name, owner: req.owner }, AbortSignal.timeout(60_000));
    await nothingLeft(req.name);
  }, 240_000);

  it("leaves alone a domain of the same name that is not its own", async () => {
    const name = `${prefix}-foreign`;
    const foreign = await client.defineDomainXml(
      `<domain type='qemu'><name>${name}</name><memory unit='MiB'>64</memory><os><type arch='x86_64'>hvm</type></os></domain>`,
    );
    try {
      const p = provider();
      await expect(p.createVm(request("foreign"), AbortSignal.timeout(20_000))).rejects.toThrow(
        /without the daemon's ownership metadata/,
      );
      // Not ours: left alone, which counts as gone for the caller.
      await p.deleteVm({ id: undefined, name, owner: { ...owner, sandboxId: name } }, AbortSignal.timeout(20_000));
      expect((await p.listOwnedVms(owner, AbortSignal.timeout(20_000))).map((v) => v.name)).not.toContain(name);
      expect(await client.lookupDomainByName(name)).toEqual(foreign);
    } finally {
      await client.undefineDomain(foreign);
    }
    await nothingLeft(`${prefix}-foreign`);
  });

  for (const { what, owner: theirs } of foreignOwners(owner)) {
    it(`leaves ${what} domain of the same name, and its volumes, alone through StopVM, a rollback, the start-up sweep and a create`, async () => {
      const name = `${prefix}-collide`;
      const dom = await client.defineDomainXml(
        `<domain type='qemu'><name>${name}</name><memory unit='MiB'>64</memory><os><type arch='x86_64'>hvm</type></os>` +
          `<metadata>${ownershipMetadataXml({ owner: theirs, token: "token-theirs", mac: "52:54:00:aa:bb:cc" })}</metadata></domain>`,
      );
      const pool = await client.lookupStoragePoolByName(TEST_POOL);
      const volumes = Object.values(vmVolumeNames(name)).sort();
      for (const v of volumes) await client.createStorageVolXml(pool, rawVolumeXml(v, 4096), 0);
      try {
        const report = await actOnForeignVm(provider(), owner, { name, id: uuidString(dom.uuid), owner: theirs });
        expect([report.rolledBack.length, report.finishedStops.length, report.orphansDeleted]).toEqual([1, 1, []]);
        // A create of that name on our node of our cluster (for its sandbox, when that is what
        // differs) refuses rather than replace it.
        const sandboxId =
          theirs.node === owner.node && theirs.cluster === owner.cluster ? `${name}-ours` : theirs.sandboxId;
        const err = await provider()
          .createVm({ ...request("collide"), owner: { ...owner, sandboxId } }, AbortSignal.timeout(60_000))
          .catch((e: unknown) => e);
        expect((err as Error).message).toContain(
          `domain ${name} on ${SYSTEM_URI} belongs to sandbox ${theirs.sandboxId} on node ${theirs.node} of cluster ${theirs.cluster}`,
        );
        expect(await leftovers(client, name)).toEqual({
          domains: [`${name} ${uuidString(dom.uuid)}`],
          volumes,
          leases: [],
        });
      } finally {
        await client.undefineDomain(dom).catch(() => {});
        for (const v of volumes)
          await client.deleteStorageVol(await client.lookupStorageVolByName(pool, v), 0).catch(() => {});
      }
      await nothingLeft(name);
    }, 240_000);
  }
});
