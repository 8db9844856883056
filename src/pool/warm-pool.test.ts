// The pool's own rules against the real local provider (a VM is a process group running our
// forwarder) and a real CA: never more than WARM_POOL_SIZE booting or ready, back-off while the
// provider fails, VMs past WARM_POOL_MAX_AGE replaced, a taken VM never offered again, a restart
// adopting VMs without making them anew, a lowered size deleting the excess.
import path from "node:path";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { localProviderConfig } from "../../providers/local/config.ts";
import { LocalProvider } from "../../providers/local/provider.ts";
import {
  type CreateVmRequest,
  type Ownership,
  type Provider,
  ProviderError,
  type VmInstance,
  type VmRef,
} from "../../providers/provider.ts";
import { useTestScope } from "../../test/support/test-scope.ts";
import { CertificateAuthority, peerVmServerName, poolVmServerName } from "../pki/index.ts";
import { sendClaimRequest } from "./claim-client.ts";
import { PoolStore } from "./pool-store.ts";
import { POOL_VM_NAME_PATTERN } from "./pool-vm-name.ts";
import { WarmPool, type WarmPoolOptions } from "./warm-pool.ts";

const scope = useTestScope("pool");
const OWNER = { node: "n1", cluster: "c1/0000" };
const NONE = { instanceType: undefined, vcpus: undefined, memoryMiB: undefined, gpus: undefined, image: undefined };

/** The local provider with a switch to make creates fail, counting creates and deletes. */
class CountingProvider implements Provider {
  readonly name = "counting";
  creates = 0;
  deletes: VmRef[] = [];
  fail: Error | undefined;
  readonly inner: LocalProvider;
  constructor(inner: LocalProvider) {
    this.inner = inner;
  }
  check(_s: AbortSignal) {
    return this.inner.check();
  }
  async createVm(req: CreateVmRequest, s: AbortSignal): Promise<VmInstance> {
    this.creates++;
    if (this.fail) throw this.fail;
    return this.inner.createVm(req, s);
  }
  deleteVm(vm: VmRef, _s: AbortSignal) {
    this.deletes.push(vm);
    return this.inner.deleteVm(vm);
  }
  listOwnedVms(o: Omit<Ownership, "sandboxId">, _s: AbortSignal) {
    return this.inner.listOwnedVms(o);
  }
  async close() {}
}

interface Bed {
  dir: string;
  local: LocalProvider;
  ca: CertificateAuthority;
  client: { caPem: string; certPem: string; keyPem: string };
}

async function bed(): Promise<Bed> {
  const dir = await scope.tempDir();
  const local = new LocalProvider(
    localProviderConfig({ LOCAL_NETWORK: "loopback", LOCAL_VM_DIR: path.join(dir, "vms") }, dir, false),
    pino({ level: "silent" }),
  );
  await local.check();
  scope.defer(async () => {
    for (const vm of await local.listOwnedVms(OWNER)) await local.deleteVm(vm);
  });
  const ca = await CertificateAuthority.loadOrCreate(path.join(dir, "ca"));
  const client = await ca.issueClientCertificate({ commonName: "daemon" });
  return { dir, local, ca, client };
}

async function makePool(
  options: Partial<WarmPoolOptions> = {},
  b?: Bed,
): Promise<{ pool: WarmPool; provider: CountingProvider; bed: Bed }> {
  const used = b ?? (await bed());
  const provider = new CountingProvider(used.local);
  const pool = new WarmPool({
    size: 2,
    shape: { instanceType: undefined, initdata: undefined },
    maxAgeMs: 3_600_000,
    provider,
    owner: OWNER,
    store: await PoolStore.open(used.dir),
    forwarderPort: 15150,
    tls: {
      issueForPoolVm: async (name) => {
        const c = await used.ca.issueServerCertificate({
          commonName: poolVmServerName(name),
          dnsNames: [poolVmServerName(name)],
        });
        return { caCert: c.caPem, cert: c.certPem, key: c.keyPem };
      },
    },
    clientTls: used.client,
    bootTimeoutMs: 60_000,
    isBound: () => false,
    logger: pino({ level: "silent" }),
    tickMs: 20,
    probeIntervalMs: 50,
    ...options,
  });
  scope.defer(() => pool.stop());
  return { pool, provider, bed: used };
}

async function until(what: string, ok: () => boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`${what}: not reached in ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const vmName = (pick: ReturnType<WarmPool["take"]>) => (pick as { vm: { name: string } }).vm.name;

describe("WarmPool", { timeout: 180_000 }, () => {
  it("fills to its size with VMs named and marked like every peer VM plus the pool mark, never more", async () => {
    const { pool, provider, bed } = await makePool({ size: 2 });
    let most = 0;
    const watch = setInterval(() => {
      most = Math.max(most, pool.counts().booting + pool.counts().ready);
    }, 5);
    scope.defer(() => clearInterval(watch));
    await pool.start(AbortSignal.timeout(10_000));
    await until("two ready", () => pool.counts().ready === 2);
    await new Promise((r) => setTimeout(r, 200));
    expect(most).toBe(2);
    expect(provider.creates).toBe(2);
    const listed = await bed.local.listOwnedVms(OWNER);
    expect(listed.map((v) => v.owner)).toEqual([
      { ...OWNER, sandboxId: "_warm-pool" },
      { ...OWNER, sandboxId: "_warm-pool" },
    ]);
    for (const v of listed) expect(v.name).toMatch(POOL_VM_NAME_PATTERN);
  });

  it("hands a ready VM to one taker only, and replaces it", async () => {
    const { pool } = await makePool({ size: 1 });
    await pool.start(AbortSignal.timeout(10_000));
    await until("ready", () => pool.counts().ready === 1);
    const first = pool.take(NONE, undefined);
    const second = pool.take(NONE, undefined);
    expect(vmName(first)).toMatch(POOL_VM_NAME_PATTERN);
    expect(second).toEqual({ miss: "empty" });
    await pool.handedOver(vmName(first));
    await until("refilled", () => pool.counts().ready === 1);
    expect(pool.list()[0]!.vmName).not.toBe(vmName(first));
  });

  it("a claimed VM's forwarder refuses a second claim, and a restarted pool deletes it instead of offering it", async () => {
    const { pool, bed } = await makePool({ size: 1 });
    await pool.start(AbortSignal.timeout(10_000));
    await until("ready", () => pool.counts().ready === 1);
    const { vm } = pool.take(NONE, undefined) as { vm: { name: string; address: string } };
    const ca = bed.ca;
    const sandboxCert = await ca.issueServerCertificate({
      commonName: peerVmServerName("sb1"),
      dnsNames: [peerVmServerName("sb1")],
    });
    const config = {
      version: 1,
      sandboxId: "sb1",
      listenPort: 15150,
      tls: { caCert: sandboxCert.caPem, cert: sandboxCert.certPem, key: sandboxCert.keyPem },
    };
    const files = [{ path: "/run/peerpod/daemon.json", permissions: "0600", content: JSON.stringify(config) }];
    await pool.claim(vm as never, "sb1", files, AbortSignal.timeout(30_000));
    await expect(pool.claim(vm as never, "sb2", files, AbortSignal.timeout(30_000))).rejects.toThrow(
      /refused the claim/,
    );
    const status = await sendClaimRequest(
      { host: vm.address, port: 15150, poolVm: vm.name },
      { op: "status" },
      bed.client,
      AbortSignal.timeout(30_000),
    ).catch((e: Error) => e);
    // Once claimed the forwarder serves its sandbox only: no pool identity, or a "claimed" answer.
    expect(status instanceof Error || (status.ok && status.state !== "waiting")).toBe(true);
    // The pool's record of it still says "ready" (the crash came before handedOver): a new pool
    // on the same state probes it, finds it no longer waiting, and deletes it.
    await pool.stop();
    const again = await makePool({ size: 1 }, bed);
    const { adopted } = await again.pool.start(AbortSignal.timeout(10_000));
    expect(adopted).toContain(vm.name);
    await until("spent VM deleted", () => again.provider.deletes.some((d) => d.name === vm.name));
    await until("a fresh one ready", () => again.pool.counts().ready === 1);
    expect(again.pool.list().map((v) => v.vmName)).not.toContain(vm.name);
  });

  it("a restart adopts booting and ready VMs without making them anew; a lowered size deletes the excess, 0 all", async () => {
    const first = await makePool({ size: 3 });
    await first.pool.start(AbortSignal.timeout(10_000));
    await until("three ready", () => first.pool.counts().ready === 3);
    const names = first.pool
      .list()
      .map((v) => v.vmName)
      .sort();
    await first.pool.stop();
    const second = await makePool({ size: 3 }, first.bed);
    expect((await second.pool.start(AbortSignal.timeout(10_000))).adopted.sort()).toEqual(names);
    await until("three ready again", () => second.pool.counts().ready === 3);
    expect(second.provider.creates).toBe(0);
    expect(second.provider.deletes).toEqual([]);
    expect(
      second.pool
        .list()
        .map((v) => v.vmName)
        .sort(),
    ).toEqual(names);
    await second.pool.stop();
    const third = await makePool({ size: 1 }, first.bed);
    const r3 = await third.pool.start(AbortSignal.timeout(10_000));
    expect(r3.deleted).toHaveLength(2);
    expect(r3.adopted).toHaveLength(1);
    await until("one ready", () => third.pool.counts().ready === 1);
    expect(third.provider.creates).toBe(0);
    expect((await first.bed.local.listOwnedVms(OWNER)).map((v) => v.name)).toEqual(r3.adopted);
    await third.pool.stop();
    const off = await makePool({ size: 0 }, first.bed);
    expect((await off.pool.start(AbortSignal.timeout(10_000))).deleted).toEqual(r3.adopted);
    expect(await first.bed.local.listOwnedVms(OWNER)).toEqual([]);
    expect((await PoolStore.open(first.bed.dir).then((s) => s.list())).records).toEqual([]);
    expect(off.pool.take(NONE, undefined)).toBeUndefined();
  });

  it("backs off while the provider fails instead of hammering it", async () => {
    const { pool, provider } = await makePool({ size: 2, backoff: { minMs: 60_000, maxMs: 60_000 } });
    provider.fail = new ProviderError("InsufficientInstanceCapacity", { retryable: true });
    await pool.start(AbortSignal.timeout(10_000));
    // The first round tries both slots; once they failed, nothing is tried again for a while.
    await until("both slots tried", () => provider.creates === 2 && pool.counts().booting === 0);
    await new Promise((r) => setTimeout(r, 500)); // 25 ticks
    expect(provider.creates).toBe(2);
    expect(pool.counts()).toEqual({ booting: 0, ready: 0 });
  });

  it("replaces a VM ready for longer than WARM_POOL_MAX_AGE", async () => {
    const { pool, provider } = await makePool({ size: 1, maxAgeMs: 1500 });
    await pool.start(AbortSignal.timeout(10_000));
    await until("ready", () => pool.counts().ready === 1);
    const first = pool.list()[0]!.vmName;
    await until(
      "replaced",
      () =>
        pool.list().some((v) => v.vmName !== first && v.state === "ready") &&
        !pool.list().some((v) => v.vmName === first),
      120_000,
    );
    await until("old one deleted", () => provider.deletes.some((d) => d.name === first));
  });

  it("serves no pod that does not fit, saying why", async () => {
    const { pool } = await makePool({ size: 1, shape: { instanceType: "t1", initdata: "i" } });
    expect(pool.take({ ...NONE, instanceType: "t2" }, "i")).toEqual({ miss: "instance_type" });
    expect(pool.take({ ...NONE, gpus: 1 }, "i")).toEqual({ miss: "gpus" });
    expect(pool.take({ ...NONE, memoryMiB: 4096 }, "i")).toEqual({ miss: "size" });
    expect(pool.take({ ...NONE, image: "ami-1" }, "i")).toEqual({ miss: "image" });
    expect(pool.take(NONE, "other")).toEqual({ miss: "initdata" });
    expect(pool.take({ ...NONE, instanceType: "t1", vcpus: 2 }, "i")).toEqual({ miss: "empty" });
  });
});
