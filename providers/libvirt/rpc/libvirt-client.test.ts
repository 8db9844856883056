// The protocol client against a real libvirtd: the test driver (test:///default, through the
// daemon) for domains, the system QEMU driver for pools, volumes, networks and a stream
// upload, and each transport (unix socket, tcp, ssh).
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  acquireLibvirtDaemons,
  ensureTestPool,
  removeAll,
  SYSTEM_SOCKET,
  SYSTEM_URI,
  TEST_NETWORK,
} from "../../../test/support/libvirt-host.ts";
import { startSocketProxy } from "../../../test/support/libvirt-socket-proxy.ts";
import { startTestSshd, type TestSshd } from "../../../test/support/libvirt-sshd.ts";
import { METADATA_NAMESPACE, ownershipMetadataXml, parseOwnershipMetadata } from "../ownership-metadata.ts";
import {
  DomainState,
  ErrorCode,
  LibvirtClient,
  LibvirtConnectionError,
  LibvirtError,
  MetadataType,
  type StoragePoolRef,
  uuidString,
} from "./index.ts";

let daemons: { release(): Promise<void> };
let test: LibvirtClient;
let system: LibvirtClient;
let pool: StoragePoolRef;
const prefix = `caa-rpc-${randomBytes(3).toString("hex")}`;

beforeAll(async () => {
  daemons = await acquireLibvirtDaemons();
  test = await LibvirtClient.connect("test:///default");
  system = await LibvirtClient.connect(SYSTEM_URI);
  pool = await ensureTestPool(system);
});

afterAll(async () => {
  // Anything a failed test left behind, then the connections and (when ours) the daemons.
  if (test) await removeAll(test, prefix).catch(() => {});
  if (system) await removeAll(system, prefix);
  await test?.close();
  await system?.close();
  await daemons?.release();
});

const testDomainXml = (name: string, metadata = "") =>
  `<domain type='test'><name>${name}</name>${metadata ? `<metadata>${metadata}</metadata>` : ""}<memory unit='MiB'>128</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os></domain>`;

describe("libvirt client on test:///default", () => {
  it("reads the connection's facts", async () => {
    expect(await test.getType()).toBe("TEST");
    expect(await test.getLibVersion()).toBeGreaterThanOrEqual(9_000_000n);
    await test.refreshStoragePool(await test.lookupStoragePoolByName("default-pool"));
    expect(await test.getCapabilities()).toContain("<capabilities>");
    expect((await test.getHostname()).length).toBeGreaterThan(0);
  });

  it("defines, starts, inspects, stops and removes a domain", async () => {
    const name = `${prefix}-life`;
    const marks = {
      owner: { sandboxId: "sb-1", node: "node-a", cluster: "c1" },
      token: "t0k",
      mac: "52:54:00:aa:bb:cc",
    };
    const defined = await test.defineDomainXml(testDomainXml(name, ownershipMetadataXml(marks)));
    expect(defined).toMatchObject({ name, id: -1 });
    expect(await test.lookupDomainByName(name)).toEqual(defined);
    expect(await test.lookupDomainByUuid(defined.uuid)).toEqual(defined);
    expect((await test.listAllDomains()).map((d) => d.name)).toContain(name);
    expect(
      parseOwnershipMetadata((await test.getDomainMetadata(defined, MetadataType.element, METADATA_NAMESPACE))!),
    ).toEqual(marks);
    expect(await test.getDomainMetadata(defined, MetadataType.element, "urn:somebody-else")).toBeUndefined();
    expect(await test.isDomainActive(defined)).toBe(false);

    const started = await test.startDomain(defined);
    expect(started.id).toBeGreaterThan(0);
    expect(await test.getDomainState(defined)).toMatchObject({ state: DomainState.running });
    expect(await test.getDomainXml(defined)).toContain(`<uuid>${uuidString(defined.uuid)}</uuid>`);
    expect((await test.listAllDomains(1)).map((d) => d.name)).toContain(name);

    await test.destroyDomain(started);
    expect(await test.getDomainState(defined)).toMatchObject({ state: DomainState.shutoff });
    // A guest shutdown (the test driver's guests obey at once).
    await test.startDomain(defined);
    await test.shutdownDomain(defined);
    expect(await test.isDomainActive(defined)).toBe(false);
    await test.undefineDomain(defined);
    await expect(test.lookupDomainByName(name)).rejects.toMatchObject({ code: ErrorCode.noDomain, notFound: true });
  });

  it("reports libvirt's errors as LibvirtError with code, domain and message", async () => {
    const err = await test.lookupDomainByName(`${prefix}-nobody`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LibvirtError);
    expect(err).toMatchObject({ code: ErrorCode.noDomain, procedure: "domainLookupByName", notFound: true });
    expect((err as LibvirtError).message).toBe("domainLookupByName: Domain not found");
    expect((err as LibvirtError).domain).toBe(12); // VIR_FROM_TEST
    await expect(test.defineDomainXml("<domain><name>broken")).rejects.toMatchObject({ code: ErrorCode.xmlDetail });
    await expect(
      test.defineDomainXml(`<domain type='test'><name>${prefix}-noos</name></domain>`),
    ).rejects.toMatchObject({ code: ErrorCode.xmlError, message: expect.stringMatching(/os <type>/) });
    await expect(test.lookupDomainByUuid(Buffer.alloc(16, 0xab))).rejects.toMatchObject({ code: ErrorCode.noDomain });
    // The connection is still good after errors.
    expect(await test.getType()).toBe("TEST");
  });

  it("keeps many calls in flight on one connection and matches every answer to its call", async () => {
    const names = Array.from({ length: 12 }, (_, i) => `${prefix}-many-${i}`);
    const defined = await Promise.all(names.map((n) => test.defineDomainXml(testDomainXml(n))));
    const calls = Array.from({ length: 600 }, (_, i) => {
      const k = i % names.length;
      return i % 3 === 0
        ? test.lookupDomainByName(names[k]!).then((d) => d.name)
        : i % 3 === 1
          ? test.getDomainXml(defined[k]!).then((x) => /<name>([^<]+)<\/name>/.exec(x)![1])
          : test.lookupDomainByName(`${names[k]}-missing`).then(
              () => "found?",
              (e: LibvirtError) => (e.code === ErrorCode.noDomain ? names[k] : `code ${e.code}`),
            );
    });
    const answers = await Promise.all(calls);
    expect(answers).toEqual(calls.map((_, i) => names[i % names.length]));
    await Promise.all(defined.map((d) => test.undefineDomain(d)));
  });

  it("gives up on a call when its signal aborts, and the connection carries on", async () => {
    const ac = new AbortController();
    const pending = test.listAllDomains(0, ac.signal);
    ac.abort(new Error("caller gave up"));
    await expect(pending).rejects.toThrow("caller gave up");
    expect(await test.getType()).toBe("TEST");
  });
});

describe("libvirt client on qemu:///system", () => {
  it("finds pools, networks and their DHCP leases, and names missing ones by code", async () => {
    expect(await system.isStoragePoolActive(pool)).toBe(true);
    expect(await system.getStoragePoolXml(pool)).toContain("<pool type='dir'>");
    const net = await system.lookupNetworkByName(TEST_NETWORK);
    expect(await system.isNetworkActive(net)).toBe(true);
    expect(await system.getNetworkXml(net)).toContain("<dhcp>");
    expect(Array.isArray(await system.getNetworkDhcpLeases(net))).toBe(true);
    expect(await system.getNetworkDhcpLeases(net, "52:54:00:00:00:00")).toEqual([]);
    await expect(system.startNetwork(net)).rejects.toMatchObject({
      code: ErrorCode.operationInvalid,
      message: expect.stringMatching(/already active/),
    });
    await expect(system.lookupStoragePoolByName(`${prefix}-pool`)).rejects.toMatchObject({
      code: ErrorCode.noStoragePool,
    });
    await expect(system.lookupNetworkByName(`${prefix}-net`)).rejects.toMatchObject({ code: ErrorCode.noNetwork });
    await expect(system.lookupStorageVolByName(pool, `${prefix}-vol`)).rejects.toMatchObject({
      code: ErrorCode.noStorageVol,
    });
  });

  it("creates a volume, uploads into it through a stream and deletes it", async () => {
    const name = `${prefix}-upload.img`;
    // Not a multiple of the stream chunk, so the last message is a short one.
    const data = randomBytes(3 * 1024 * 1024 + 12345);
    const vol = await system.createStorageVolXml(
      pool,
      `<volume><name>${name}</name><capacity unit='bytes'>${data.length}</capacity><target><format type='raw'/></target></volume>`,
    );
    expect(vol).toMatchObject({ pool: pool.name, name });
    expect(await system.getStorageVolXml(vol)).toContain(`<name>${name}</name>`);
    const pieces = [data.subarray(0, 1000), data.subarray(1000, 2_000_000), data.subarray(2_000_000)];
    expect(await system.uploadStorageVol(vol, pieces, { length: BigInt(data.length) })).toBe(data.length);
    const file = await system.getStorageVolPath(vol);
    expect((await fs.readFile(file)).equals(data)).toBe(true);
    expect((await system.listAllVolumes(pool)).map((v) => v.name)).toContain(name);
    await system.deleteStorageVol(vol);
    await expect(system.lookupStorageVolByName(pool, name)).rejects.toMatchObject({ code: ErrorCode.noStorageVol });
  });

  it("reports a stream the daemon refuses, and abandons an upload its caller aborts", async () => {
    const name = `${prefix}-small.img`;
    const vol = await system.createStorageVolXml(
      pool,
      `<volume><name>${name}</name><capacity unit='bytes'>4096</capacity><target><format type='raw'/></target></volume>`,
    );
    // More bytes than the upload announced: the daemon's stream fails and says why.
    const refused = await system.uploadStorageVol(vol, [Buffer.alloc(8192)], { length: 100n }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(LibvirtError);
    expect((refused as LibvirtError).procedure).toBe("storageVolUpload");
    const ac = new AbortController();
    async function* slow() {
      yield Buffer.alloc(1024);
      ac.abort(new Error("upload cancelled"));
      yield Buffer.alloc(1024);
    }
    await expect(system.uploadStorageVol(vol, slow(), { length: 4096n, signal: ac.signal })).rejects.toThrow(
      "upload cancelled",
    );
    expect(await system.getType()).toBe("QEMU");
    await system.deleteStorageVol(vol);
  });
});

describe("libvirt client transports", () => {
  it("qemu+unix:// uses the socket= parameter", async () => {
    const proxy = await startSocketProxy(SYSTEM_SOCKET, { path: `/tmp/${prefix}.sock` });
    try {
      const c = await LibvirtClient.connect(`qemu+unix:///system?socket=/tmp/${prefix}.sock`);
      expect(await c.getType()).toBe("QEMU");
      expect(proxy.accepted).toBe(1);
      await c.close();
      const err = await LibvirtClient.connect(`qemu+unix:///system?socket=/tmp/${prefix}-none.sock`).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(LibvirtConnectionError);
      expect((err as Error).message).toMatch(/-none\.sock.*is libvirtd running/);
    } finally {
      await proxy.close();
    }
  });

  it("qemu+tcp:// speaks the same protocol over TCP, and in-flight calls fail when the link drops", async () => {
    const proxy = await startSocketProxy(SYSTEM_SOCKET, { port: 0 });
    try {
      const c = await LibvirtClient.connect(`qemu+tcp://127.0.0.1:${proxy.address}/system`);
      expect(c.description).toBe(`tcp 127.0.0.1:${proxy.address}`);
      expect(await c.getType()).toBe("QEMU");
      const inFlight = Promise.all(Array.from({ length: 20 }, () => c.getCapabilities()));
      proxy.cut();
      await expect(inFlight).rejects.toBeInstanceOf(LibvirtConnectionError);
      expect(c.isOpen).toBe(false);
      await expect(c.getType()).rejects.toThrow(`connection to libvirt (tcp 127.0.0.1:${proxy.address})`);
      await c.close();
    } finally {
      await proxy.close();
    }
  });

  describe("qemu+ssh://", () => {
    let sshd: TestSshd;
    beforeAll(async () => {
      sshd = await startTestSshd();
    });
    afterAll(async () => {
      await sshd?.stop();
    });

    it("reaches the daemon through ssh with the URI's key, via virt-ssh-helper or nc", async () => {
      for (const proxy of ["auto", "netcat"]) {
        const uri = `qemu+ssh://root@127.0.0.1:${sshd.port}/system?keyfile=${sshd.clientKey}&known_hosts=${sshd.knownHosts}&proxy=${proxy}`;
        const c = await LibvirtClient.connect(uri);
        expect(c.description).toBe(`ssh root@127.0.0.1:${sshd.port}`);
        const [type, domains, poolRef] = await Promise.all([
          c.getType(),
          c.listAllDomains(),
          c.lookupStoragePoolByName(pool.name),
        ]);
        expect(type).toBe("QEMU");
        expect(Array.isArray(domains)).toBe(true);
        expect(poolRef.uuid.equals(pool.uuid)).toBe(true);
        await c.close();
      }
    });

    it("no_verify accepts an unknown host key; without it ssh refuses, and a wrong key is named", async () => {
      const base = `qemu+ssh://root@127.0.0.1:${sshd.port}/system?keyfile=${sshd.clientKey}&known_hosts=/dev/null`;
      const c = await LibvirtClient.connect(`${base}&no_verify=1`);
      expect(await c.getType()).toBe("QEMU");
      await c.close();
      await expect(LibvirtClient.connect(base)).rejects.toThrow(/Host key verification failed/);
      const wrongKey = `qemu+ssh://root@127.0.0.1:${sshd.port}/system?keyfile=${sshd.strangerKey}&known_hosts=${sshd.knownHosts}`;
      await expect(LibvirtClient.connect(wrongKey)).rejects.toThrow(/Permission denied/);
    });
  });
});
