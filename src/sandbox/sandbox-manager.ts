import fs from "node:fs/promises";
import path from "node:path";
import type { Logger } from "pino";
import {
  isPoolVm,
  type Ownership,
  POOL_SANDBOX_MARK,
  type Provider,
  type VmInstance,
} from "../../providers/provider.ts";
import { FAILPOINTS, type Failpoint } from "../config/failpoints.ts";
import { ANNOTATIONS } from "../kata/annotations.ts";
import type { RegistryAuth } from "../registry-auth/index.ts";
import { buildCloudConfig, type CloudConfigFile, type PodNetwork } from "../userdata/index.ts";
import { KeyedMutex } from "../util/keyed-mutex.ts";
import { unixSocketPathProblem } from "../util/unix-socket-path.ts";
import type {
  AgentRelay,
  PodTunnels,
  PooledVm,
  PoolOutcome,
  RelayFactory,
  VmTlsIssuer,
  WarmPoolPort,
} from "./contracts.ts";
import { checkPodInitdata } from "./initdata-check.ts";
import { PhaseClock, type StartPhase } from "./phase-clock.ts";
import { podFiles } from "./pod-user-data.ts";
import { resourcesFromAnnotations } from "./resources.ts";
import { SandboxError } from "./sandbox-error.ts";
import { SANDBOX_ID_PATTERN, type SandboxRecord, type SandboxState } from "./sandbox-record.ts";
import type { SandboxStore, UnreadableRecord } from "./sandbox-store.ts";
import { vmNameFor, vmTokenFor } from "./vm-name.ts";
import { VniAllocator } from "./vni-allocator.ts";

export type { StartPhase };

export interface SandboxManagerOptions {
  readonly store: SandboxStore;
  readonly provider: Provider;
  readonly owner: Omit<Ownership, "sandboxId">;
  readonly podsDir: string;
  readonly limit: number;
  readonly forwarderPort: number;
  readonly proxyTimeoutMs: number;
  readonly relays: RelayFactory;
  readonly tls: VmTlsIssuer | undefined;
  readonly tunnels: PodTunnels | undefined;
  /** First VNI handed out; VNIs of live records are never reused. */
  readonly vniBase: number;
  readonly vniCount: number;
  readonly vxlanPort: number;
  /** Initdata for pods whose annotations carry none (INITDATA). */
  readonly defaultInitdata?: string | undefined;
  /** Where a pod's registry credentials come from; none when undefined. */
  readonly registryAuth?: RegistryAuth | undefined;
  readonly logger: Logger;
  /** How long a stopped sandbox's socket keeps answering errors before it disappears. */
  readonly socketLingerMs?: number;
  /** Bound on provider clean-up work done outside any call's deadline (rollback, reconcile). */
  readonly cleanupTimeoutMs?: number;
  /** Crash tests: called at the named point of a transition (the daemon SIGKILLs itself there). */
  readonly failpoint?: { readonly name: Failpoint; readonly hit: () => void };
  /** Told how long each phase of a successful StartVM took, so slow pod starts can be traced
   * to the provider, the VM's boot or the daemon itself. */
  readonly onStartPhase?: (phase: StartPhase, seconds: number) => void;
  /** The warm pool (WARM_POOL_SIZE); StartVM claims from it when the pod fits. */
  readonly pool?: WarmPoolPort | undefined;
  /** Told whether each StartVM claimed a pool VM or why not (only when the pool is on). */
  readonly onPoolOutcome?: (outcome: PoolOutcome) => void;
  /** Told how long each successful StartVM took, and whether it was warm (a pool VM) or cold. */
  readonly onStarted?: (path: "warm" | "cold", seconds: number) => void;
}

export { FAILPOINTS };

export interface SandboxView {
  readonly id: string;
  /** quarantined: its record failed validation and is left, with its VM, for an operator. */
  readonly state: SandboxState | "quarantined";
  readonly vmName: string | undefined;
  readonly vmId: string | undefined;
  readonly address: string | undefined;
  readonly vni: number | undefined;
  readonly tunnel: string | undefined;
  readonly podName: string | undefined;
  readonly podNamespace: string | undefined;
  readonly ageSeconds: number;
  readonly error: string | undefined;
}

export interface ReconcileReport {
  readonly served: string[];
  readonly rolledBack: string[];
  readonly finishedStops: string[];
  readonly orphansDeleted: string[];
  /** Record files that failed validation: left in place, their VMs kept. */
  readonly quarantined: string[];
  /** Sandboxes that could not be reconciled: rolled back, marked failed with the reason. */
  readonly failed: string[];
}

/**
 * The life cycle of every sandbox on this node. Each transition is written to the store
 * before the side effect it announces, so a crash at any point leaves a record that says what
 * may exist and must be finished or undone. Calls for one sandbox run one at a time; calls for
 * different sandboxes never wait on each other.
 */
export class SandboxManager {
  private readonly o: SandboxManagerOptions;
  private readonly records = new Map<string, SandboxRecord>();
  private readonly relays = new Map<string, AgentRelay>();
  private readonly lock = new KeyedMutex();
  /** Record files that failed validation at start-up, by file: never acted on, VMs kept. */
  private readonly quarantined = new Map<string, UnreadableRecord>();
  /** Agent sockets of stopped sandboxes still answering "stopped" to their shims, by id. */
  private readonly lingering = new Map<string, AgentRelay>();
  /** How StopVM aborts the StartVMs under way or queued for its sandbox. */
  private readonly startAborts = new Map<string, Set<AbortController>>();
  /** Sandboxes whose CreateVM is saving their first record: they count against the limit. */
  private readonly creating = new Set<string>();
  private readonly vnis: VniAllocator;

  constructor(options: SandboxManagerOptions) {
    this.o = options;
    this.vnis = new VniAllocator(options.vniBase, options.vniCount);
  }

  get size(): number {
    return this.records.size;
  }

  countByState(): Record<SandboxState, number> {
    const out: Record<SandboxState, number> = { created: 0, starting: 0, running: 0, failed: 0, stopping: 0 };
    for (const r of this.records.values()) out[r.state]++;
    return out;
  }

  list(): SandboxView[] {
    const now = Date.now();
    const live = [...this.records.values()].map((r) => ({
      id: r.id,
      state: r.state,
      vmName: r.vm?.name,
      vmId: r.vm?.id,
      address: r.vm?.address,
      vni: r.tunnel?.vni,
      tunnel: r.tunnel?.state,
      podName: r.annotations[ANNOTATIONS.podName] || undefined,
      podNamespace: r.annotations[ANNOTATIONS.podNamespace] || undefined,
      ageSeconds: Math.round((now - Date.parse(r.createdAt)) / 1000),
      error: r.error,
    }));
    const quarantined = [...this.quarantined.values()].map((q) => ({
      id: q.id ?? path.basename(q.file),
      state: "quarantined" as const,
      vmName: undefined,
      vmId: undefined,
      address: undefined,
      vni: undefined,
      tunnel: undefined,
      podName: undefined,
      podNamespace: undefined,
      ageSeconds: 0,
      error: `record ${q.file} quarantined: ${q.error}`,
    }));
    return [...live, ...quarantined];
  }

  agentSocketPath(id: string): string {
    return path.join(this.o.podsDir, id, "agent.ttrpc");
  }

  /** CreateVM: records the sandbox and returns its agent socket path. Idempotent. */
  async create(id: string, annotations: Record<string, string>, networkNamespacePath: string): Promise<string> {
    checkId(id);
    resourcesFromAnnotations(annotations); // reject bad annotations now, not at StartVM
    checkPodInitdata(annotations, this.o.defaultInitdata);
    // Checked now: found at StartVM, it would fail only after the VM exists.
    const socketProblem = unixSocketPathProblem(this.agentSocketPath(id));
    if (socketProblem !== undefined)
      throw new SandboxError(
        "invalid-argument",
        `sandbox ${id}: agent socket ${socketProblem}: use a shorter PODS_DIR`,
      );
    if (networkNamespacePath !== "" && this.o.tunnels !== undefined) {
      await this.o.tunnels.checkNamespace(networkNamespacePath).catch((err: Error) => {
        throw new SandboxError("invalid-argument", `sandbox ${id}: ${err.message}`, { cause: err });
      });
    }
    return this.lock.run(id, async () => {
      const existing = this.records.get(id);
      if (existing !== undefined) return existing.agentSocketPath;
      // A sandbox stopped moments ago under the same id left its socket answering "stopped":
      // the new one takes the path over now, before any VM is made for it.
      const predecessor = this.lingering.get(id);
      if (predecessor !== undefined) {
        this.lingering.delete(id);
        await predecessor.stop(0);
      }
      const bad = [...this.quarantined.values()].find((q) => q.id === id);
      if (bad !== undefined)
        throw new SandboxError(
          "failed-precondition",
          `sandbox ${id}: its record ${bad.file} is quarantined (${bad.error}); an operator must repair or remove it and its VM`,
        );
      // Creates of other ids run concurrently (the lock is per id) and are counted from before
      // their record is saved, or all of them would pass a check made before any save.
      const taken = this.records.size + this.creating.size;
      if (taken >= this.o.limit) {
        throw new SandboxError(
          "exhausted",
          `node already runs ${taken} peer pods (PEERPODS_LIMIT_PER_NODE=${this.o.limit})`,
        );
      }
      this.creating.add(id);
      try {
        const now = new Date().toISOString();
        const record: SandboxRecord = {
          version: 1,
          id,
          state: "created",
          createdAt: now,
          updatedAt: now,
          annotations: { ...annotations },
          networkNamespacePath,
          agentSocketPath: this.agentSocketPath(id),
        };
        await this.save(record);
      } finally {
        this.creating.delete(id);
      }
      this.log(id).info({ netns: networkNamespacePath || undefined }, "sandbox created");
      return this.agentSocketPath(id);
    });
  }

  /** StartVM: creates the peer VM, waits for its forwarder, serves the agent socket. */
  async start(id: string, signal: AbortSignal): Promise<void> {
    checkId(id);
    // StopVM aborts this StartVM (even one still waiting for the lock) rather than wait for it:
    // a VM that never answers would hold StopVM up until PROXY_TIMEOUT.
    const stopper = new AbortController();
    const aborts = this.startAborts.get(id) ?? new Set<AbortController>();
    aborts.add(stopper);
    this.startAborts.set(id, aborts);
    try {
      return await this.lock.run(id, async () => {
        stopper.signal.throwIfAborted();
        const current = this.records.get(id);
        if (current === undefined)
          throw new SandboxError("not-found", `sandbox ${id} not found: CreateVM was not called`);
        if (current.state === "running") return;
        if (current.state === "stopping")
          throw new SandboxError("failed-precondition", `sandbox ${id} is being stopped`);
        await this.startLocked(current, AbortSignal.any([signal, stopper.signal]));
      });
    } finally {
      aborts.delete(stopper);
      if (aborts.size === 0 && this.startAborts.get(id) === aborts) this.startAborts.delete(id);
    }
  }

  private async startLocked(base: SandboxRecord, signal: AbortSignal): Promise<void> {
    const id = base.id;
    const log = this.log(id);
    const resources = resourcesFromAnnotations(base.annotations);
    const attempt = (base.attempt ?? 0) + 1;
    const phases = new PhaseClock();
    // A pool VM is taken before anything is awaited, so no other StartVM can take it too.
    const pick = this.o.pool?.take(resources, base.annotations[ANNOTATIONS.initdata] || this.o.defaultInitdata);
    if (pick !== undefined && "miss" in pick) this.o.onPoolOutcome?.(pick.miss);
    let pooled: PooledVm | undefined = pick !== undefined && "vm" in pick ? pick.vm : undefined;
    const coldVm = {
      name: vmNameFor({ ...this.o.owner, sandboxId: id }, base.annotations[ANNOTATIONS.podName]),
      token: vmTokenFor(id, attempt),
    };
    const vm =
      pooled === undefined
        ? coldVm
        : {
            name: pooled.name,
            token: pooled.token,
            id: pooled.id,
            address: pooled.address,
            instanceType: pooled.instanceType,
            pool: true,
          };
    // The VM's certificate is made while the record is written (it names only the sandbox);
    // podFiles below takes it.
    const issued = this.o.tls?.issueForVm(id);
    issued?.catch(() => {}); // awaited through podFiles; a throw before that must not go unhandled
    const tls: VmTlsIssuer | undefined = issued === undefined ? undefined : { issueForVm: () => issued };
    // For a pool VM this is the claim, made durable before the VM hears of it: from here on a
    // restart finds the VM bound to this sandbox (and deletes it with the rolled-back start),
    // so it is never handed to a second pod.
    let record = await this.save({ ...base, state: "starting", attempt, vm, error: undefined });
    log.info(
      { vm: vm.name, attempt, warm: pooled !== undefined },
      pooled === undefined ? "starting peer VM" : "claiming a warm pool VM",
    );
    this.failpoint("start-after-intent");
    let instance: VmInstance | undefined;
    let relay: AgentRelay | undefined;
    // The pool forgets the VM (its record's delete) while the pod's files are made and pushed:
    // the sandbox record above already holds it, which is what keeps it from a second pod.
    let handing: Promise<void> = Promise.resolve();
    try {
      if (pooled !== undefined) {
        this.failpoint("start-after-claim-record");
        handing = this.o.pool?.handedOver(pooled.name) ?? handing;
        handing.catch(() => {}); // awaited below; this only keeps an early throw from leaving it unhandled
      }
      let podNetwork: PodNetwork | undefined;
      if (base.networkNamespacePath !== "" && this.o.tunnels !== undefined) {
        const vni = this.allocateVni(id);
        record = await this.save({ ...record, tunnel: { vni, state: "pending" } });
        const prepared = await phases.time("tunnel", () =>
          this.o.tunnels!.prepare(id, base.networkNamespacePath, signal),
        );
        podNetwork = { ...prepared, vni, vxlanPort: this.o.vxlanPort };
        record = await this.save({ ...record, tunnel: { vni, state: "pending", network: podNetwork } });
      }
      // What a cold VM's user-data carries and a claim hands a pool VM: the same files.
      const files = await podFiles({
        sandboxId: id,
        annotations: base.annotations,
        forwarderPort: this.o.forwarderPort,
        tls,
        podNetwork,
        defaultInitdata: this.o.defaultInitdata,
        registryAuth: this.o.registryAuth,
        signal,
      });
      // Set when the claimed forwarder's reply vouched for its agent: no second handshake to ask.
      let agentReady = false;
      if (pooled !== undefined) {
        const claimed = await this.claimPooled(record, pooled, files, phases, signal);
        if (claimed !== undefined) {
          instance = { id: pooled.id, name: pooled.name, address: pooled.address, owner: this.poolMarks() };
          agentReady = claimed.agentReady;
        } else {
          // The pool VM did not take the pod (it is deleted): this StartVM goes cold.
          pooled = undefined;
          record = await this.save({ ...(this.records.get(id) ?? record), vm: coldVm });
        }
      }
      if (instance === undefined) {
        const userData = buildCloudConfig(files);
        const req = {
          name: coldVm.name,
          token: coldVm.token,
          owner: { ...this.o.owner, sandboxId: id },
          resources,
          userData,
        };
        instance = await phases.time("provider_create", () => this.o.provider.createVm(req, signal));
        this.failpoint("start-after-create");
        record = await this.save({
          ...record,
          vm: { ...coldVm, id: instance.id, address: instance.address, instanceType: instance.details?.instanceType },
        });
        if (instance.address === undefined)
          throw new SandboxError("unavailable", `peer VM ${coldVm.name} (${instance.id}) has no address`);
        log.info({ vmId: instance.id, address: instance.address }, "peer VM created");
        this.failpoint("start-after-vm-saved");
      }
      const address = instance.address;
      if (address === undefined) throw new SandboxError("unavailable", `peer VM ${instance.name} has no address`);
      if (podNetwork !== undefined && this.o.tunnels !== undefined) {
        await phases.time("tunnel", () =>
          this.o.tunnels!.connect(id, base.networkNamespacePath, podNetwork, address, signal),
        );
        record = await this.save({ ...record, tunnel: { vni: podNetwork.vni, state: "up", network: podNetwork } });
      }
      // Warm or cold, the sandbox is served through the same seam: the relay serves its socket
      // towards the forwarder at this address, whose certificate must name the sandbox.
      const target = { host: address, port: this.o.forwarderPort };
      // The relay is told to serve while the forwarder is waited for: the shim dials the socket
      // only after StartVM answers, which is after both, and a failed wait stops the relay in
      // the roll-back below.
      relay = this.o.relays.create(id, record.agentSocketPath, target);
      const serving = relay.start();
      serving.catch(() => {}); // awaited below
      // A claim reply that vouched for the agent proved what this wait would: the forwarder at
      // this address took this sandbox's configuration and certificate (over a handshake that
      // checked the pool VM's identity) and its agent answered. The relay still checks the
      // sandbox's certificate on every connection the shim makes.
      if (!agentReady)
        await phases.time("vm_boot", () =>
          this.o.relays.waitForForwarder(
            target,
            AbortSignal.any([signal, AbortSignal.timeout(this.o.proxyTimeoutMs)]),
            id,
          ),
        );
      await serving;
      await handing;
      this.relays.set(id, relay);
      this.failpoint("start-after-relay");
      await this.save({ ...record, state: "running" });
      const took = phases.report(this.o.onStartPhase);
      this.o.onStarted?.(pooled === undefined ? "cold" : "warm", phases.totalSeconds());
      log.info({ seconds: took, warm: pooled !== undefined }, "sandbox running");
    } catch (err) {
      // The claim record was never saved: the VM goes back to no one, and the pool's sweep
      // deletes it (it is never offered again).
      if (pooled !== undefined && this.records.get(id)?.vm?.name !== pooled.name)
        await this.o.pool?.handedOver(pooled.name).catch(() => {});
      const message = describe(err, signal);
      log.error({ err: message }, "StartVM failed; rolling back");
      if (relay !== undefined) await relay.stop(0).catch(() => {});
      this.relays.delete(id);
      const latest = this.records.get(id) ?? record;
      const cleanup = await this.cleanupVm(latest, instance);
      await this.save({
        ...latest,
        state: "failed",
        error: message + (cleanup ? `; clean-up also failed: ${cleanup}` : ""),
        tunnel: cleanup ? latest.tunnel : undefined,
      });
      const stoppedBy = signal.aborted && signal.reason instanceof SandboxError ? signal.reason : undefined;
      if (stoppedBy !== undefined) throw new SandboxError(stoppedBy.kind, message, { cause: err });
      throw err instanceof SandboxError
        ? err
        : new SandboxError(signal.aborted ? "deadline" : "unavailable", message, { cause: err });
    }
  }

  /**
   * Hands the pool VM the pod's configuration over mutual TLS. What the VM answered when it
   * took it; undefined when it did not (unreachable, refused): the VM is then deleted, since it
   * may have applied part of the claim, and StartVM goes on cold. A deadline that passed is thrown.
   */
  private async claimPooled(
    record: SandboxRecord,
    pooled: PooledVm,
    files: readonly CloudConfigFile[],
    phases: PhaseClock,
    signal: AbortSignal,
  ): Promise<{ agentReady: boolean } | undefined> {
    const log = this.log(record.id);
    const pool = this.o.pool;
    if (pool === undefined) return undefined;
    let reply: { agentReady: boolean };
    try {
      reply = await phases.time("claim", () => pool.claim(pooled, record.id, files, signal));
    } catch (err) {
      if (signal.aborted) throw err;
      this.o.onPoolOutcome?.("claim_failed");
      log.warn({ vm: pooled.name, err: (err as Error).message }, "pool VM claim failed; deleting it and starting cold");
      try {
        await this.o.provider.deleteVm(
          { id: pooled.id, name: pooled.name, owner: this.poolMarks() },
          AbortSignal.timeout(this.o.cleanupTimeoutMs ?? 120_000),
        );
      } catch (e) {
        // Unbound once the record names the cold VM: the pool's sweep deletes it later.
        log.error({ vm: pooled.name, err: (e as Error).message }, "could not delete the pool VM whose claim failed");
      }
      return undefined;
    }
    this.failpoint("start-after-claim");
    this.o.onPoolOutcome?.("claimed");
    log.info({ vm: pooled.name, address: pooled.address, agentReady: reply.agentReady }, "pool VM claimed");
    return reply;
  }

  /** True when a sandbox record (in any state) names this VM: it is not the pool's. */
  holdsVm(vmName: string): boolean {
    for (const r of this.records.values()) if (r.vm?.name === vmName) return true;
    return false;
  }

  private poolMarks(): Ownership {
    return { ...this.o.owner, sandboxId: POOL_SANDBOX_MARK };
  }

  /** StopVM: tears down relay, tunnel and VM, then forgets the sandbox. Idempotent. */
  async stop(id: string, signal: AbortSignal): Promise<void> {
    checkId(id);
    for (const start of this.startAborts.get(id) ?? [])
      start.abort(new SandboxError("cancelled", `StartVM of sandbox ${id} aborted: StopVM was called`));
    return this.lock.run(id, async () => {
      const current = this.records.get(id);
      if (current === undefined) return;
      const record = await this.save({ ...current, state: "stopping" });
      this.failpoint("stop-after-intent");
      const relay = this.relays.get(id);
      this.relays.delete(id);
      await relay?.stop(this.o.socketLingerMs ?? 10_000);
      if (relay !== undefined) {
        this.lingering.set(id, relay);
        void relay.closed.then(() => {
          if (this.lingering.get(id) === relay) this.lingering.delete(id);
        });
      }
      const failure = await this.cleanupVm(record, undefined, signal);
      if (failure) {
        await this.save({ ...record, error: failure });
        throw new SandboxError(
          "unavailable",
          `StopVM ${id}: ${failure} (will retry at the next StopVM or reconciliation)`,
        );
      }
      this.failpoint("stop-after-delete");
      await this.forget(id);
      this.log(id).info("sandbox stopped");
    });
  }

  /**
   * Start-up: compares the records with the VMs the provider says we own, serves live
   * sandboxes again, undoes half-done starts, finishes stops, deletes VMs no record claims.
   */
  async reconcile(signal: AbortSignal): Promise<ReconcileReport> {
    const report = {
      served: [] as string[],
      rolledBack: [] as string[],
      finishedStops: [] as string[],
      orphansDeleted: [] as string[],
      quarantined: [] as string[],
      failed: [] as string[],
    };
    const { records, unreadable } = await this.o.store.list();
    for (const u of unreadable) {
      this.o.logger.error(
        { file: u.file, sandbox: u.id, err: u.error },
        "sandbox record quarantined: left in place for an operator, its peer VM kept",
      );
      this.quarantined.set(u.file, u);
      report.quarantined.push(u.file);
    }
    for (const r of records) this.records.set(r.id, r);
    const owned = await this.o.provider.listOwnedVms(this.o.owner, signal);
    const orphans = await this.walkOwned(
      records.map((r) => r.id),
      owned,
      async (r, vms, claim) => {
        const live = r.vm === undefined ? undefined : vms.find((v) => v.name === r.vm!.name);
        if (r.state === "running" && live !== undefined) {
          claim(live);
          await this.reserve(r, live);
          report.served.push(r.id);
        } else if (r.state === "stopping") {
          for (const v of vms) claim(v);
          if (await this.finishStop(r, undefined)) report.finishedStops.push(r.id);
        } else if (r.state === "starting" || (r.state === "running" && live === undefined)) {
          const why = r.state === "starting" ? "daemon restarted during StartVM" : "peer VM no longer exists";
          const failure = await this.cleanupVm(r, undefined);
          await this.save({ ...r, state: "failed", error: why + (failure ? `; clean-up failed: ${failure}` : "") });
          for (const v of vms) claim(v);
          report.rolledBack.push(r.id);
        } else {
          // created or failed: no VM should exist; any found belongs to nobody.
        }
      },
      async (r, err) => {
        // One that cannot be served again (a file where its socket goes, a record that cannot be
        // written) is rolled back and marked failed; the others are still served.
        await this.failAtReconcile(r, err);
        report.failed.push(r.id);
      },
    );
    report.orphansDeleted.push(...orphans);
    return report;
  }

  /**
   * While the daemon runs: finishes StopVMs whose VM deletion failed, and deletes VMs that no
   * live sandbox claims (a rollback whose clean-up failed, a VM whose sandbox is gone). Each
   * record is read from memory under its sandbox's lock, so a call under way is never undone;
   * unlike start-up reconciliation it never declares a running sandbox's VM gone, since cloud
   * listings may lag behind a create.
   */
  async sweep(signal: AbortSignal): Promise<{ finishedStops: string[]; orphansDeleted: string[] }> {
    const owned = await this.o.provider.listOwnedVms(this.o.owner, signal);
    const finishedStops: string[] = [];
    const orphansDeleted = await this.walkOwned(
      [...this.records.keys()],
      owned,
      async (r, vms, claim) => {
        if (r.state === "stopping") {
          for (const v of vms) claim(v); // the stop deletes them itself
          if (await this.finishStop(r, signal)) finishedStops.push(r.id);
        } else if ((r.state === "running" || r.state === "starting") && r.vm !== undefined) {
          for (const v of vms) if (v.name === r.vm.name) claim(v);
        }
      },
      async (r, err) => {
        this.log(r.id).error({ err: (err as Error).message }, "sweep could not handle the sandbox; will retry");
      },
    );
    return { finishedStops, orphansDeleted };
  }

  /**
   * The walk reconcile() and sweep() share: each sandbox in turn, read from memory under its
   * lock, is shown the listed VMs that carry its id and claims those that are its own; then the
   * listed VMs no sandbox claimed are deleted. Returns their names. A sandbox whose visit
   * fails is handed to `failed`, and the walk goes on: one sandbox never stops the others.
   */
  private async walkOwned(
    ids: readonly string[],
    owned: readonly VmInstance[],
    visit: (r: SandboxRecord, vms: VmInstance[], claim: (vm: VmInstance) => void) => Promise<void>,
    failed: (r: SandboxRecord, err: unknown) => Promise<void>,
  ): Promise<string[]> {
    const claimed = new Set<string>();
    const claim = (vm: VmInstance) => claimed.add(vm.id);
    for (const id of ids) {
      await this.lock.run(id, async () => {
        const r = this.records.get(id);
        if (r === undefined) return;
        try {
          // A claimed pool VM carries the pool's mark, not the sandbox's: the record names it.
          await visit(
            r,
            owned.filter(
              (v) => v.owner.sandboxId === id || (isPoolVm(v) && r.vm?.pool === true && v.name === r.vm.name),
            ),
            claim,
          );
        } catch (err) {
          await failed(this.records.get(id) ?? r, err);
        }
      });
    }
    return this.deleteOrphans(owned, claimed);
  }

  /** Finishes a StopVM whose clean-up failed before; true once the sandbox is forgotten. */
  private async finishStop(r: SandboxRecord, signal: AbortSignal | undefined): Promise<boolean> {
    const failure = await this.cleanupVm(r, undefined, signal);
    if (failure) {
      this.log(r.id).error({ err: failure }, "could not finish StopVM; will retry");
      return false;
    }
    await this.forget(r.id);
    return true;
  }

  /** Deletes every listed VM not claimed by a running or starting sandbox; returns their names. */
  private async deleteOrphans(owned: readonly VmInstance[], claimed: ReadonlySet<string>): Promise<string[]> {
    const deleted: string[] = [];
    const quarantined = new Set([...this.quarantined.values()].map((q) => q.id));
    for (const v of owned) {
      if (claimed.has(v.id) || quarantined.has(v.owner.sandboxId)) continue;
      if (v.owner.node !== this.o.owner.node || v.owner.cluster !== this.o.owner.cluster) {
        // The provider's listing matched more than our marks: never ours to delete.
        this.o.logger.error(
          { vm: v.name, vmId: v.id, owner: v.owner },
          "provider listed a peer VM of another node or cluster as ours; left alone",
        );
        continue;
      }
      // A pool VM no sandbox record names is the pool's to keep or delete (src/pool).
      if (isPoolVm(v)) continue;
      const rec = this.records.get(v.owner.sandboxId);
      if (rec !== undefined && (rec.state === "running" || rec.state === "starting") && rec.vm?.name === v.name)
        continue;
      try {
        await this.o.provider.deleteVm(
          { id: v.id, name: v.name, owner: v.owner },
          AbortSignal.timeout(this.o.cleanupTimeoutMs ?? 120_000),
        );
        deleted.push(v.name);
        this.o.logger.warn(
          { vm: v.name, vmId: v.id, sandbox: v.owner.sandboxId },
          "deleted peer VM that no sandbox claims",
        );
      } catch (err) {
        this.o.logger.error({ vm: v.name, err: (err as Error).message }, "could not delete orphan peer VM");
      }
    }
    return deleted;
  }

  private async failAtReconcile(r: SandboxRecord, err: unknown): Promise<void> {
    const why = `could not be served again after a restart: ${(err as Error).message}`;
    this.log(r.id).error({ err: why }, "sandbox failed at reconciliation; serving the others");
    const failure = await this.cleanupVm(r, undefined);
    await this.save({ ...r, state: "failed", error: why + (failure ? `; clean-up failed: ${failure}` : "") }).catch(
      (e: Error) => {
        this.log(r.id).error({ err: e.message }, "could not record the failure");
      },
    );
  }

  /** Stops relays without touching VMs: pods keep running while the daemon restarts. */
  async detach(): Promise<void> {
    const all = [...this.relays.values(), ...this.lingering.values()];
    this.relays.clear();
    this.lingering.clear();
    await Promise.all(all.map((r) => r.stop(0).catch(() => {})));
  }

  private async reserve(r: SandboxRecord, live: VmInstance): Promise<void> {
    const address = r.vm?.address ?? live.address;
    if (address === undefined) return;
    const relay = this.o.relays.create(r.id, r.agentSocketPath, { host: address, port: this.o.forwarderPort });
    await relay.start();
    this.relays.set(r.id, relay);
    this.log(r.id).info({ address }, "agent socket served again after restart");
  }

  /** Deletes the record's VM and tunnel; returns an error message, or "" when all is gone. */
  private async cleanupVm(r: SandboxRecord, instance: VmInstance | undefined, signal?: AbortSignal): Promise<string> {
    const problems: string[] = [];
    const timeout = AbortSignal.timeout(this.o.cleanupTimeoutMs ?? 120_000);
    const s = signal === undefined || signal.aborted ? timeout : AbortSignal.any([signal, timeout]);
    if (r.tunnel !== undefined && this.o.tunnels !== undefined) {
      try {
        await this.o.tunnels.teardown(r.id, r.networkNamespacePath, r.tunnel.network);
      } catch (err) {
        problems.push(`tunnel: ${(err as Error).message}`);
      }
    }
    if (r.vm !== undefined) {
      try {
        await this.o.provider.deleteVm(
          {
            id: instance?.id ?? r.vm.id,
            name: r.vm.name,
            owner: r.vm.pool === true ? this.poolMarks() : { ...this.o.owner, sandboxId: r.id },
          },
          s,
        );
      } catch (err) {
        problems.push(`deleting peer VM ${r.vm.name}: ${(err as Error).message}`);
      }
    }
    return problems.join("; ");
  }

  private allocateVni(id: string): number {
    const held: number[] = [];
    for (const r of this.records.values()) if (r.id !== id && r.tunnel !== undefined) held.push(r.tunnel.vni);
    return this.vnis.allocate(id, held);
  }

  private async save(record: SandboxRecord): Promise<SandboxRecord> {
    const next = { ...record, updatedAt: new Date().toISOString() };
    await this.o.store.put(next);
    this.records.set(next.id, next);
    this.vnis.recorded(next.id, next.tunnel?.vni);
    return next;
  }

  private async forget(id: string): Promise<void> {
    await this.o.store.delete(id);
    this.records.delete(id);
    this.vnis.release(id);
    const dir = path.dirname(this.agentSocketPath(id));
    // The relay removes its socket after lingering; the directory goes when it is empty.
    await fs.rmdir(dir).catch(() => {});
  }

  private failpoint(name: Failpoint): void {
    if (this.o.failpoint?.name === name) this.o.failpoint.hit();
  }

  private log(id: string): Logger {
    return this.o.logger.child({ sandbox: id });
  }
}

function checkId(id: string): void {
  if (!SANDBOX_ID_PATTERN.test(id))
    throw new SandboxError(
      "invalid-argument",
      `invalid sandbox id ${JSON.stringify(id)}: expected 1-128 letters, digits, '.', '_' or '-'`,
    );
}

function describe(err: unknown, signal: AbortSignal): string {
  const msg = err instanceof Error ? err.message : String(err);
  // Aborted by StopVM: say so first, then what was under way.
  if (signal.aborted && signal.reason instanceof SandboxError)
    return err === signal.reason ? msg : `${signal.reason.message} (${msg})`;
  if (signal.aborted && !(err instanceof SandboxError)) return `StartVM deadline reached: ${msg}`;
  return msg;
}
