// The warm pool: peer VMs booted before any pod asks, each waiting for one claim. StartVM takes
// a ready one for a pod that fits; the pool refills in the background, never beyond its size
// (booting + ready), backing off while the provider fails. VMs are single use: a taken VM
// belongs to its sandbox and is deleted with it, never returned.
import type { Logger } from "pino";
import {
  isPoolVm,
  NO_RESOURCES,
  type Ownership,
  POOL_SANDBOX_MARK,
  type Provider,
  type ResourceRequest,
} from "../../providers/provider.ts";
import type { PoolFailpoint } from "../config/failpoints.ts";
import type { PooledVm, PoolMiss, WarmPoolPort } from "../sandbox/index.ts";
import { buildPoolUserData, type CloudConfigFile, type ForwarderTls } from "../userdata/index.ts";
import { sleep } from "../util/sleep.ts";
import { type ClaimClientTls, sendClaimRequest } from "./claim-client.ts";
import { type PoolShape, poolMiss } from "./pool-fit.ts";
import type { PoolVmRecord, PoolVmState } from "./pool-record.ts";
import type { PoolStore } from "./pool-store.ts";
import { newPoolVm } from "./pool-vm-name.ts";

/** Issues a pool VM its identity: a server certificate naming poolVmServerName(name). */
export interface PoolTlsIssuer {
  issueForPoolVm(name: string): Promise<ForwarderTls>;
}

export interface WarmPoolOptions {
  /** WARM_POOL_SIZE: VMs booting or ready at most (and the target). */
  readonly size: number;
  readonly shape: PoolShape;
  /** WARM_POOL_MAX_AGE: unclaimed VMs ready for longer are deleted and replaced. */
  readonly maxAgeMs: number;
  readonly provider: Provider;
  /** This node's and cluster's marks; pool VMs carry them with POOL_SANDBOX_MARK. */
  readonly owner: Omit<Ownership, "sandboxId">;
  readonly store: PoolStore;
  readonly forwarderPort: number;
  /** The pool VMs' identities and the daemon's client certificate; undefined only at size 0
   * (no TLS of the daemon's own CA: the configuration refuses a pool then). */
  readonly tls: PoolTlsIssuer | undefined;
  readonly clientTls: ClaimClientTls | undefined;
  /** How long a pool VM may take from create to its forwarder answering (PROXY_TIMEOUT). */
  readonly bootTimeoutMs: number;
  /** True when a sandbox record names this VM: it is that sandbox's, never the pool's. */
  readonly isBound: (vmName: string) => boolean;
  readonly logger: Logger;
  readonly cleanupTimeoutMs?: number;
  /** How often the pool looks at itself (refill, max age); default 1 s. */
  readonly tickMs?: number;
  /** Back-off after provider failures: doubles from minMs up to maxMs; default 2 s .. 5 min. */
  readonly backoff?: { readonly minMs: number; readonly maxMs: number };
  readonly probeIntervalMs?: number;
  /** Crash tests: called at the named point of a pool VM's boot. */
  readonly failpoint?: { readonly name: string; readonly hit: () => void };
}

export interface PoolVmView {
  readonly id: string;
  readonly pool: true;
  readonly state: PoolVmState;
  readonly vmName: string;
  readonly vmId: string | undefined;
  readonly address: string | undefined;
  readonly instanceType: string | undefined;
  readonly ageSeconds: number;
}

interface Entry {
  record: PoolVmRecord;
  /** Set while the VM boots (or, adopted, is probed); a VM is ready when it is unset. */
  task: AbortController | undefined;
  done: Promise<void>;
}

export class WarmPool implements WarmPoolPort {
  private readonly o: WarmPoolOptions;
  private readonly entries = new Map<string, Entry>();
  /** Taken by a StartVM whose sandbox record may not hold it yet: never an orphan. */
  private readonly handedOut = new Set<string>();
  private readonly removals = new Set<Promise<void>>();
  private readonly stopping = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  /** Set once start() has adopted what an earlier run left: only then may the sweep delete. */
  private started = false;
  private failures = 0;
  private notBefore = 0;

  constructor(options: WarmPoolOptions) {
    this.o = options;
  }

  get size(): number {
    return this.o.size;
  }

  counts(): Record<PoolVmState, number> {
    const out = { booting: 0, ready: 0 };
    for (const e of this.entries.values()) out[e.task === undefined ? "ready" : "booting"]++;
    return out;
  }

  list(): PoolVmView[] {
    const now = Date.now();
    return [...this.entries.values()].map(({ record: r, task }) => ({
      id: r.name,
      pool: true as const,
      state: task === undefined ? ("ready" as const) : ("booting" as const),
      vmName: r.name,
      vmId: r.id,
      address: r.address,
      instanceType: r.instanceType,
      ageSeconds: Math.round((now - Date.parse(r.createdAt)) / 1000),
    }));
  }

  /**
   * Start-up, after the sandbox manager reconciled: adopts the pool VMs of an earlier run
   * (ready ones are probed, booting ones resume their create with the same token: nothing is
   * deleted and made again), drops the records of VMs a sandbox took, deletes pool VMs nobody
   * knows and any beyond the size, then keeps the pool filled.
   */
  async start(signal: AbortSignal): Promise<{ adopted: string[]; deleted: string[] }> {
    const adopted: string[] = [];
    const deleted: string[] = [];
    const { records, unreadable } = await this.o.store.list();
    for (const u of unreadable)
      this.o.logger.error({ file: u.file, err: u.error }, "unreadable pool VM record: left in place for an operator");
    const listed = new Map(
      (await this.o.provider.listOwnedVms(this.o.owner, signal)).filter(isPoolVm).map((v) => [v.name, v]),
    );
    const known = new Set<string>();
    const kept: PoolVmRecord[] = [];
    for (const r of records) {
      known.add(r.name);
      if (this.o.isBound(r.name)) {
        await this.o.store.delete(r.name); // a claim got as far as the sandbox's record
        continue;
      }
      if (r.state === "ready" && !listed.has(r.name)) {
        this.o.logger.warn({ poolVm: r.name }, "pool VM no longer exists; forgotten");
        await this.o.store.delete(r.name);
        continue;
      }
      kept.push(r);
    }
    // WARM_POOL_SIZE lowered (0: all): booting ones go first, then the oldest; they are deleted
    // as they are, never probed or booted further.
    kept.sort(
      (a, b) => Number(a.state === "ready") - Number(b.state === "ready") || a.createdAt.localeCompare(b.createdAt),
    );
    const excess = kept.splice(0, Math.max(0, kept.length - this.o.size));
    for (const r of excess) {
      if (await this.deleteVm({ name: r.name, id: r.id ?? listed.get(r.name)?.id }, "WARM_POOL_SIZE lowered"))
        deleted.push(r.name);
    }
    for (const r of kept) {
      this.boot(r, r.state === "ready" ? "probe" : "resume");
      adopted.push(r.name);
    }
    for (const v of listed.values()) {
      if (known.has(v.name) || this.o.isBound(v.name)) continue;
      if (await this.deleteVm({ name: v.name, id: v.id }, "pool VM without a record")) deleted.push(v.name);
    }
    this.started = true;
    if (this.stopping.signal.aborted) return { adopted, deleted };
    this.timer = setInterval(() => this.tick(), this.o.tickMs ?? 1000);
    this.timer.unref();
    this.tick();
    return { adopted, deleted };
  }

  /**
   * StartVM: a ready VM for a pod that fits, taken at once (no await) so two StartVMs never get
   * the same one; or why not. Undefined when the pool is off (size 0).
   */
  take(resources: ResourceRequest, initdata: string | undefined): { vm: PooledVm } | { miss: PoolMiss } | undefined {
    if (this.o.size === 0) return undefined;
    const miss = poolMiss(this.o.shape, resources, initdata);
    if (miss !== undefined) return { miss };
    const now = Date.now();
    let best: Entry | undefined;
    for (const e of this.entries.values()) {
      if (e.task !== undefined || this.expired(e, now)) continue;
      if (best === undefined || e.record.createdAt < best.record.createdAt) best = e;
    }
    if (best === undefined || best.record.id === undefined || best.record.address === undefined)
      return { miss: "empty" };
    const r = best.record;
    this.entries.delete(r.name);
    this.handedOut.add(r.name);
    setImmediate(() => this.tick());
    return { vm: { name: r.name, token: r.token, id: r.id!, address: r.address!, instanceType: r.instanceType } };
  }

  /** The sandbox's record now holds the VM: the pool forgets it for good. */
  async handedOver(name: string): Promise<void> {
    await this.o.store.delete(name);
    this.handedOut.delete(name);
  }

  /** Pushes the sandbox's files to the VM's forwarder; throws when the VM did not take them.
   * agentReady: the forwarder answered only once its agent did (see ClaimReply). */
  async claim(
    vm: PooledVm,
    sandboxId: string,
    files: readonly CloudConfigFile[],
    signal: AbortSignal,
  ): Promise<{ agentReady: boolean }> {
    const reply = await sendClaimRequest(
      { host: vm.address, port: this.o.forwarderPort, poolVm: vm.name },
      { op: "claim", poolVm: vm.name, sandboxId, files },
      this.clientTls(),
      signal,
    );
    if (!reply.ok) throw new Error(`pool VM ${vm.name} refused the claim: ${reply.error}`);
    return { agentReady: reply.agentReady === true };
  }

  /** The marks a pool VM carries (and must carry exactly to be deleted). */
  marks(): Ownership {
    return { ...this.o.owner, sandboxId: POOL_SANDBOX_MARK };
  }

  /** While running: deletes pool VMs that neither the pool nor any sandbox knows (a delete
   * that failed earlier). Returns their names. */
  async sweep(signal: AbortSignal): Promise<string[]> {
    // What the pool knows is taken before the listing is looked at: a VM handed over after
    // this point is named by a sandbox record by the time isBound is asked.
    if (!this.started) return [];
    const known = new Set([...this.entries.keys(), ...this.handedOut]);
    const owned = (await this.o.provider.listOwnedVms(this.o.owner, signal)).filter(isPoolVm);
    const deleted: string[] = [];
    for (const v of owned) {
      if (known.has(v.name) || this.entries.has(v.name) || this.handedOut.has(v.name) || this.o.isBound(v.name))
        continue;
      if (await this.deleteVm({ name: v.name, id: v.id }, "pool VM nobody knows")) deleted.push(v.name);
    }
    return deleted;
  }

  /** Stops refilling; VMs booting are left for the next start to adopt. */
  async stop(): Promise<void> {
    this.stopping.abort(new Error("daemon stopping"));
    clearInterval(this.timer);
    const tasks: Promise<void>[] = [];
    for (const e of this.entries.values()) {
      e.task?.abort(new Error("daemon stopping"));
      tasks.push(e.done);
    }
    await Promise.all([...tasks, ...this.removals]);
  }

  private tick(): void {
    if (this.stopping.signal.aborted) return;
    const now = Date.now();
    for (const e of [...this.entries.values()]) {
      if (e.task === undefined && this.expired(e, now)) this.drop(e, "older than WARM_POOL_MAX_AGE");
    }
    if (now < this.notBefore) return;
    while (this.entries.size < this.o.size) {
      const { name, token } = newPoolVm(this.o.owner);
      this.boot({ version: 1, name, token, state: "booting", createdAt: new Date().toISOString() }, "new");
    }
  }

  /** Age counts from when the VM was ready: a slow boot never makes a VM stale on arrival. */
  private expired(e: Entry, now: number): boolean {
    return now - Date.parse(e.record.readyAt ?? e.record.createdAt) >= this.o.maxAgeMs;
  }

  /** new: record, create, probe; resume: create again with the recorded token (finds the VM
   * an earlier run made), probe; probe: only ask the forwarder whether it still waits. */
  private boot(record: PoolVmRecord, how: "new" | "resume" | "probe"): void {
    const task = new AbortController();
    const entry: Entry = { record, task, done: Promise.resolve() };
    this.entries.set(record.name, entry);
    entry.done = this.runBoot(entry, task.signal, how);
  }

  private async runBoot(entry: Entry, abort: AbortSignal, how: "new" | "resume" | "probe"): Promise<void> {
    const signal = AbortSignal.any([abort, AbortSignal.timeout(this.o.bootTimeoutMs)]);
    const name = entry.record.name;
    const log = this.o.logger.child({ poolVm: name });
    try {
      if (how === "new") {
        await this.o.store.put(entry.record);
        this.failpoint("pool-after-intent");
      }
      if (how !== "probe") {
        if (this.o.tls === undefined) throw new Error("pool VMs need the daemon's own CA");
        const tls = await this.o.tls.issueForPoolVm(name);
        const userData = buildPoolUserData(
          { version: 1, poolVm: name, listenPort: this.o.forwarderPort, tls },
          this.o.shape.initdata,
        );
        const resources: ResourceRequest = { ...NO_RESOURCES, instanceType: this.o.shape.instanceType };
        const vm = await this.o.provider.createVm(
          { name, token: entry.record.token, owner: this.marks(), resources, userData },
          signal,
        );
        if (vm.address === undefined) throw new Error(`pool VM ${name} (${vm.id}) has no address`);
        entry.record = {
          ...entry.record,
          id: vm.id,
          address: vm.address,
          instanceType: vm.details?.instanceType ?? this.o.shape.instanceType,
        };
        await this.o.store.put(entry.record);
        this.failpoint("pool-after-create");
      }
      await this.untilWaiting(entry.record, signal);
      if (entry.record.state !== "ready") {
        entry.record = { ...entry.record, state: "ready", readyAt: new Date().toISOString() };
        await this.o.store.put(entry.record);
      }
      entry.task = undefined;
      this.failures = 0;
      log.info({ address: entry.record.address, how }, "pool VM ready");
    } catch (err) {
      // Left for the next start, or dropped by whoever aborted it.
      if (this.stopping.signal.aborted || this.entries.get(name) !== entry) return;
      this.entries.delete(name);
      this.failures++;
      const { minMs, maxMs } = this.o.backoff ?? { minMs: 2000, maxMs: 300_000 };
      const wait = Math.min(maxMs, minMs * 2 ** Math.min(this.failures - 1, 20));
      this.notBefore = Date.now() + wait;
      log.error({ err: (err as Error).message, retryInMs: wait }, "pool VM failed to boot; deleting it");
      await this.deleteVm({ name, id: entry.record.id }, "failed to boot");
    }
  }

  /** Asks the forwarder until it answers "waiting"; a VM claimed or spent is never reused. */
  private async untilWaiting(r: PoolVmRecord, signal: AbortSignal): Promise<void> {
    let last = "no answer yet";
    const address = r.address;
    if (address === undefined) throw new Error(`pool VM ${r.name} has no address`);
    while (!signal.aborted) {
      try {
        const reply = await sendClaimRequest(
          { host: address, port: this.o.forwarderPort, poolVm: r.name },
          { op: "status" },
          this.clientTls(),
          AbortSignal.any([signal, AbortSignal.timeout(5000)]),
        );
        if (reply.ok && reply.state === "waiting") return;
        throw new UsedVmError(
          `pool VM ${r.name} is ${reply.ok ? reply.state : `refusing: ${reply.error}`}; a pool VM is never reused`,
        );
      } catch (err) {
        if (err instanceof UsedVmError) throw err;
        last = (err as Error).message;
      }
      await sleep(this.o.probeIntervalMs ?? 250, signal).catch(() => undefined);
    }
    throw new Error(`pool VM ${r.name} did not answer in time: ${last}`);
  }

  /** Forgets an entry and deletes its VM in the background (after its boot task ended). */
  private drop(e: Entry, why: string): void {
    this.entries.delete(e.record.name);
    e.task?.abort(new Error(why));
    const removal = e.done
      .then(() => this.deleteVm({ name: e.record.name, id: e.record.id }, why))
      .then(() => undefined);
    this.removals.add(removal);
    void removal.finally(() => this.removals.delete(removal));
  }

  /** Deletes the VM, then its record; a failure keeps the record (the sweep or the next start
   * tries again). Returns whether it is gone. */
  private async deleteVm(vm: { name: string; id: string | undefined }, why: string): Promise<boolean> {
    try {
      // Only a VM that still carries exactly the pool's marks of this node and cluster is deleted.
      await this.o.provider.deleteVm(
        { ...vm, owner: this.marks() },
        AbortSignal.timeout(this.o.cleanupTimeoutMs ?? 120_000),
      );
      await this.o.store.delete(vm.name);
      this.o.logger.info({ poolVm: vm.name, why }, "pool VM deleted");
      return true;
    } catch (err) {
      this.o.logger.error(
        { poolVm: vm.name, why, err: (err as Error).message },
        "could not delete pool VM; will retry",
      );
      return false;
    }
  }

  private clientTls(): ClaimClientTls {
    if (this.o.clientTls === undefined) throw new Error("pool VMs are claimed over mutual TLS only");
    return this.o.clientTls;
  }

  private failpoint(name: PoolFailpoint): void {
    if (this.o.failpoint?.name === name) this.o.failpoint.hit();
  }
}

class UsedVmError extends Error {}
