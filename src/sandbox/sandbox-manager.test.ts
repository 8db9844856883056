import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  type CreateVmRequest,
  type Ownership,
  type Provider,
  sameOwner,
  type VmInstance,
  type VmRef,
} from "../../providers/provider.ts";
import {
  forwarderConfigFromUserData,
  INITDATA_PATH,
  type PodNetwork,
  parseCloudConfig,
  REGISTRY_AUTH_PATH,
} from "../userdata/index.ts";
import type { AgentRelay, ForwarderAddress, PodTunnels, RelayFactory, WarmPoolPort } from "./contracts.ts";
import { SandboxError } from "./sandbox-error.ts";
import { SandboxManager, type SandboxManagerOptions } from "./sandbox-manager.ts";
import { SandboxStore } from "./sandbox-store.ts";
import { vmNameFor } from "./vm-name.ts";

/** The name the manager gives the VM of sandbox `id` on node n1 of cluster c1. */
const vmOf = (id: string) => vmNameFor({ sandboxId: id, node: "n1", cluster: "c1" }, undefined);

/** An in-memory cloud: enough to drive the manager's state machine through every branch. */
class MemoryProvider implements Provider {
  readonly name = "memory";
  readonly vms = new Map<string, VmInstance & { token: string; userData: string }>();
  createDelayMs = 0;
  /** Per-VM-name delays, for tests that need one slow VM among fast ones. */
  readonly delays = new Map<string, number>();
  failCreate: Error | undefined;
  failDelete: Error | undefined;
  private next = 1;
  async check() {}
  async createVm(req: CreateVmRequest, signal: AbortSignal): Promise<VmInstance> {
    const found = [...this.vms.values()].find((v) => v.token === req.token);
    if (found) return found;
    const vm = {
      id: `i-${this.next++}`,
      name: req.name,
      address: `10.0.0.${this.next}`,
      owner: req.owner,
      token: req.token,
      userData: req.userData,
    };
    this.vms.set(vm.id, vm); // exists from the moment the cloud accepted it, like a real one
    const delay = this.delays.get(req.name) ?? this.createDelayMs;
    if (delay > 0) {
      signal.throwIfAborted(); // an abort listener added now would never fire
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(resolve, delay);
        signal.addEventListener("abort", () => {
          clearTimeout(t);
          reject(signal.reason);
        });
      });
    }
    if (this.failCreate) throw this.failCreate;
    return vm;
  }
  async deleteVm(vm: VmRef) {
    if (this.failDelete) throw this.failDelete;
    for (const [k, v] of this.vms)
      if ((v.id === vm.id || v.name === vm.name) && sameOwner(v.owner, vm.owner)) this.vms.delete(k);
  }
  async listOwnedVms(owner: Omit<Ownership, "sandboxId">) {
    return [...this.vms.values()].filter((v) => v.owner.node === owner.node && v.owner.cluster === owner.cluster);
  }
  async close() {}
}

class FakeRelays implements RelayFactory {
  readonly live = new Map<string, ForwarderAddress>();
  unreachable = false;
  /** The sandboxes whose forwarder StartVM waited for. */
  readonly waited: string[] = [];
  create(id: string, _socket: string, target: ForwarderAddress): AgentRelay {
    return {
      start: async () => void this.live.set(id, target),
      stop: async () => void this.live.delete(id),
      closed: Promise.resolve(),
    };
  }
  async waitForForwarder(target: ForwarderAddress, signal: AbortSignal, sandboxId: string) {
    this.waited.push(sandboxId);
    if (!this.unreachable) return;
    const refused = () => new Error(`peer VM ${target.host}:${target.port} not reachable: ECONNREFUSED`);
    if (signal.aborted) throw refused();
    await new Promise((_r, reject) => signal.addEventListener("abort", () => reject(refused())));
  }
}

class FakeTunnels implements PodTunnels {
  readonly up = new Map<string, number>();
  async checkNamespace() {}
  async prepare(): Promise<PodNetwork> {
    return {
      workerAddress: "192.0.2.1",
      vni: 0,
      vxlanPort: 0,
      interfaceName: "eth0",
      mac: "02:00:00:00:00:01",
      mtu: 1500,
      addresses: ["10.244.0.5/24"],
      routes: [],
    };
  }
  async connect(id: string, _ns: string, network: PodNetwork) {
    this.up.set(id, network.vni);
  }
  async teardown(id: string) {
    this.up.delete(id);
  }
}

let dir: string;
let provider: MemoryProvider;
let relays: FakeRelays;
let tunnels: FakeTunnels;
const logger = pino({ level: "silent" });

/** The options every test starts from, over `store`. */
function options(store: SandboxStore, extra: Partial<SandboxManagerOptions> = {}): SandboxManagerOptions {
  return {
    store,
    provider,
    owner: { node: "n1", cluster: "c1" },
    podsDir: path.join(dir, "pods"),
    limit: 3,
    forwarderPort: 15150,
    proxyTimeoutMs: 5000,
    relays,
    tls: undefined,
    tunnels,
    vniBase: 555000,
    vniCount: 4,
    vxlanPort: 4789,
    logger,
    socketLingerMs: 0,
    ...extra,
  };
}

async function manager(extra: Partial<SandboxManagerOptions> = {}) {
  const m = new SandboxManager(options(await SandboxStore.open(dir), extra));
  await m.reconcile(AbortSignal.timeout(5000));
  return m;
}

/** Puts a VM into the memory cloud directly, as another daemon (or an earlier run of this one) left it. */
function placeVm(name: string, token: string, owner: Ownership) {
  return provider.createVm({ name, token, owner, resources: {} as never, userData: "" }, never());
}
const never = () => new AbortController().signal;

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "mgr-"));
  provider = new MemoryProvider();
  relays = new FakeRelays();
  tunnels = new FakeTunnels();
});
afterEach(async () => fs.rm(dir, { recursive: true, force: true }));

describe("SandboxManager", () => {
  it("creates idempotently, returns the per-pod socket path and writes a 0600 record", async () => {
    const m = await manager();
    const p = await m.create("sb1", {}, "");
    expect(p).toBe(path.join(dir, "pods", "sb1", "agent.ttrpc"));
    expect(await m.create("sb1", {}, "")).toBe(p);
    const st = await fs.stat(path.join(dir, "sandboxes", "sb1.json"));
    expect(st.mode & 0o777).toBe(0o600);
    expect((await fs.stat(dir)).mode & 0o777).toBe(0o700);
  });

  it("refuses more sandboxes than the node limit with an exhausted error", async () => {
    const m = await manager();
    for (const id of ["a", "b", "c"]) await m.create(id, {}, "");
    await expect(m.create("d", {}, "")).rejects.toMatchObject({
      kind: "exhausted",
      message: expect.stringContaining("PEERPODS_LIMIT_PER_NODE=3"),
    });
  });

  it("holds PEERPODS_LIMIT_PER_NODE under concurrent CreateVMs", async () => {
    const m = await manager(); // limit 3
    const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => m.create(`c${i}`, {}, "")));
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(3);
    for (const r of results) if (r.status === "rejected") expect(r.reason).toMatchObject({ kind: "exhausted" });
    expect(m.size).toBe(3);
    expect((await fs.readdir(path.join(dir, "sandboxes"))).length).toBe(3);
  });

  it("refuses at CreateVM an id whose agent socket path passes the 108-byte limit of Unix sockets", async () => {
    const m = await manager();
    const room = 107 - Buffer.byteLength(m.agentSocketPath("")) - 1; // "<pods>/<id>/agent.ttrpc"
    await expect(m.create("x".repeat(room + 1), {}, "")).rejects.toMatchObject({
      kind: "invalid-argument",
      message: expect.stringMatching(/108.*PODS_DIR/),
    });
    expect(m.size).toBe(0);
    const longest = await m.create("y".repeat(room), {}, "");
    expect(Buffer.byteLength(longest)).toBe(107); // with its terminating NUL, exactly 108
  });

  it("rejects invalid ids and annotations naming them", async () => {
    const m = await manager();
    await expect(m.create("../etc", {}, "")).rejects.toMatchObject({ kind: "invalid-argument" });
    await expect(m.create("ok", { "io.katacontainers.config.hypervisor.default_vcpus": "two" }, "")).rejects.toThrow(
      /default_vcpus="two": expected a whole number/,
    );
  });

  it("starts: records intent before the provider call, creates the VM with user-data, serves the relay", async () => {
    const m = await manager();
    await m.create("sb1", { "io.kubernetes.cri.sandbox-name": "web-0" }, "");
    let seenDuringCreate: unknown;
    const inner = provider.createVm.bind(provider);
    provider.createVm = async (req, signal) => {
      seenDuringCreate = JSON.parse(await fs.readFile(path.join(dir, "sandboxes", "sb1.json"), "utf8"));
      return inner(req, signal);
    };
    await m.start("sb1", never());
    expect(seenDuringCreate).toMatchObject({
      state: "starting",
      vm: { name: expect.stringMatching(/^podvm-web-0-sb1-[0-9a-f]{16}$/) },
    });
    const vm = [...provider.vms.values()][0]!;
    expect(forwarderConfigFromUserData(vm.userData)).toMatchObject({ sandboxId: "sb1", listenPort: 15150 });
    expect(vm.owner).toEqual({ node: "n1", cluster: "c1", sandboxId: "sb1" });
    expect(relays.live.get("sb1")).toEqual({ host: vm.address, port: 15150 });
    expect(m.list()[0]).toMatchObject({ id: "sb1", state: "running", vmId: vm.id });
    await m.start("sb1", never()); // idempotent
    expect(provider.vms.size).toBe(1);
  });

  it("hands the pod's initdata (annotation, else INITDATA) to the VM in its user-data", async () => {
    const dflt = 'version = "0.1.0"\nalgorithm = "sha256"\n[data]\n# default\n';
    const own = 'version = "0.1.0"\nalgorithm = "sha384"\n[data]\n"policy.rego" = "package agent_policy"\n';
    const m = await manager({ defaultInitdata: dflt });
    await m.create(
      "own",
      { "io.katacontainers.config.hypervisor.cc_init_data": Buffer.from(own).toString("base64") },
      "",
    );
    await m.create("dflt", {}, "");
    await m.start("own", never());
    await m.start("dflt", never());
    const files = (name: string) => parseCloudConfig([...provider.vms.values()].find((v) => v.name === name)!.userData);
    expect(files(vmOf("own")).find((f) => f.path === INITDATA_PATH)).toEqual({
      path: INITDATA_PATH,
      permissions: "0600",
      content: Buffer.from(own).toString("base64"),
    });
    expect(files(vmOf("dflt")).find((f) => f.path === INITDATA_PATH)?.content).toBe(dflt);
    const none = await manager();
    await none.create("bare", {}, "");
    await none.start("bare", never());
    expect(files(vmOf("bare")).map((f) => f.path)).toEqual(["/run/peerpod/daemon.json"]);
  });

  it("fails CreateVM on invalid initdata, naming its source and the problem, before any VM or record exists", async () => {
    const m = await manager({ defaultInitdata: 'version = "0.1.0"\nalgorithm = "md5"\n[data]\n' });
    const bad = await m
      .create(
        "own",
        { "io.katacontainers.config.hypervisor.cc_init_data": 'version = "0.1.0"\nalgorithm = "sha256"\n' },
        "",
      )
      .catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(SandboxError);
    expect((bad as SandboxError).kind).toBe("invalid-argument");
    expect((bad as SandboxError).message).toBe(
      "annotation io.katacontainers.config.hypervisor.cc_init_data: initdata: has no [data] table",
    );
    const dflt = await m.create("dflt", {}, "").catch((e: unknown) => e);
    expect((dflt as SandboxError).message).toBe(
      'INITDATA (the daemon\'s default initdata): initdata: algorithm is "md5"; expected one of sha256, sha384, sha512',
    );
    expect(m.size).toBe(0);
    expect(provider.vms.size).toBe(0);
  });

  it("reports where StartVM's time went, phase by phase", async () => {
    const phases = new Map<string, number>();
    const m = await manager({ onStartPhase: (p, s) => phases.set(p, s) });
    await m.create("sb1", {}, "");
    provider.createDelayMs = 120;
    await m.start("sb1", never());
    expect([...phases.keys()].sort()).toEqual(["daemon", "provider_create", "tunnel", "vm_boot"]);
    expect(phases.get("provider_create")).toBeGreaterThanOrEqual(0.11);
    for (const seconds of phases.values()) expect(seconds).toBeGreaterThanOrEqual(0);
  });

  it("rolls back a StartVM whose deadline passes during VM creation: no VM left", async () => {
    const m = await manager();
    await m.create("sb1", {}, "");
    provider.createDelayMs = 5000;
    const err = await m.start("sb1", AbortSignal.timeout(50)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SandboxError);
    expect((err as SandboxError).kind).toBe("deadline");
    expect(provider.vms.size).toBe(0);
    expect(m.list()[0]).toMatchObject({ state: "failed", error: expect.stringContaining("deadline") });
    await m.stop("sb1", never());
    expect(m.size).toBe(0);
  });

  it("rolls back when the forwarder never answers, naming the address", async () => {
    const m = await manager({ proxyTimeoutMs: 50 });
    await m.create("sb1", {}, "");
    relays.unreachable = true;
    await expect(m.start("sb1", never())).rejects.toThrow(/not reachable: ECONNREFUSED/);
    expect(provider.vms.size).toBe(0);
    expect(relays.live.size).toBe(0);
  });

  it("StopVM aborts a StartVM under way for its sandbox, then cleans up", async () => {
    const m = await manager({ proxyTimeoutMs: 600_000 });
    await m.create("sb1", {}, "");
    await m.create("other", {}, "");
    relays.unreachable = true; // a forwarder that never answers
    const starting = m.start("sb1", never()).catch((e: unknown) => e);
    const other = m.start("other", never()).catch((e: unknown) => e);
    while (provider.vms.size < 2) await new Promise((r) => setTimeout(r, 5));
    await m.stop("sb1", never());
    expect(await starting).toMatchObject({ kind: "cancelled", message: expect.stringContaining("StopVM") });
    expect([...provider.vms.values()].map((v) => v.owner.sandboxId)).toEqual(["other"]); // only sb1's StartVM was aborted
    expect(m.list().map((s) => s.id)).toEqual(["other"]);
    await m.stop("other", never());
    expect(await other).toMatchObject({ kind: "cancelled" });
    expect(provider.vms.size).toBe(0);
  });

  it("keeps the record and reports when StopVM cannot delete the VM, then succeeds on retry", async () => {
    const m = await manager();
    await m.create("sb1", {}, "");
    await m.start("sb1", never());
    provider.failDelete = new Error("API throttled");
    await expect(m.stop("sb1", never())).rejects.toThrow(/API throttled/);
    expect(m.list()[0]).toMatchObject({ state: "stopping" });
    provider.failDelete = undefined;
    await m.stop("sb1", never());
    expect(provider.vms.size).toBe(0);
    expect(m.size).toBe(0);
    await m.stop("sb1", never()); // unknown sandbox: success
  });

  it("never waits on another sandbox's slow StartVM", async () => {
    const m = await manager();
    await m.create("slow", {}, "");
    await m.create("fast", {}, "");
    provider.delays.set(vmOf("slow"), 300);
    let slowDone = false;
    const slow = m.start("slow", never()).then(() => (slowDone = true));
    await m.start("fast", never());
    expect(slowDone).toBe(false);
    await slow;
  });

  it("hands out distinct VNIs, never reuses a live one after a restart, reuses freed ones", async () => {
    const m1 = await manager();
    for (const id of ["a", "b"]) {
      await m1.create(id, {}, "/var/run/netns/x");
      await m1.start(id, never());
    }
    expect([...tunnels.up.values()].sort()).toEqual([555000, 555001]);
    await m1.stop("a", never());
    const m2 = await manager(); // the daemon restarted: state comes from the records
    await m2.create("c", {}, "/var/run/netns/x");
    await m2.start("c", never());
    await m2.create("d", {}, "/var/run/netns/x");
    await m2.start("d", never());
    expect(
      m2
        .list()
        .map((s) => [s.id, s.vni])
        .sort(),
    ).toEqual([
      ["b", 555001],
      ["c", 555000],
      ["d", 555002],
    ]);
  });

  it("fails StartVM clearly when VNIs run out, leaving nothing", async () => {
    const m = await manager({ vniCount: 1, limit: 5 });
    await m.create("a", {}, "/ns");
    await m.start("a", never());
    await m.create("b", {}, "/ns");
    await expect(m.start("b", never())).rejects.toMatchObject({
      kind: "exhausted",
      message: expect.stringContaining("VNI"),
    });
    expect(provider.vms.size).toBe(1);
  });

  it("sweeps while running: finishes a failed StopVM, deletes a VM whose rollback left it, never touches live sandboxes", async () => {
    const m = await manager({ limit: 10 });
    for (const id of ["live", "stuck", "leaky"]) await m.create(id, {}, "");
    await m.start("live", never());
    await m.start("stuck", never());
    provider.failDelete = new Error("API down");
    await expect(m.stop("stuck", never())).rejects.toThrow(/API down/);
    provider.failCreate = new Error("VM create failed late");
    await expect(m.start("leaky", never())).rejects.toThrow(/failed late/);
    expect(m.list().find((s) => s.id === "leaky")).toMatchObject({
      state: "failed",
      error: expect.stringContaining("clean-up also failed"),
    });
    expect(provider.vms.size).toBe(3);
    provider.failDelete = undefined;
    provider.failCreate = undefined;
    // A start under way while the sweep runs is not undone.
    await m.create("starting", {}, "");
    provider.delays.set(vmOf("starting"), 200);
    const starting = m.start("starting", never());
    const swept = await m.sweep(never());
    await starting;
    expect(swept).toEqual({ finishedStops: ["stuck"], orphansDeleted: [vmOf("leaky")] });
    expect([...provider.vms.values()].map((v) => v.name).sort()).toEqual([vmOf("live"), vmOf("starting")].sort());
    expect(
      m
        .list()
        .map((s) => [s.id, s.state])
        .sort(),
    ).toEqual([
      ["leaky", "failed"],
      ["live", "running"],
      ["starting", "running"],
    ]);
  });

  it("gives sandboxes whose ids share a lower-cased start their own VMs: stopping one leaves the other's", async () => {
    const m = await manager();
    await m.create("abcdef123456-one", {}, "");
    await m.create("ABCDEF123456-two", {}, "");
    await m.start("abcdef123456-one", never());
    await m.start("ABCDEF123456-two", never());
    expect(new Set([...provider.vms.values()].map((v) => v.name)).size).toBe(2);
    await m.stop("abcdef123456-one", never());
    expect([...provider.vms.values()].map((v) => v.owner.sandboxId)).toEqual(["ABCDEF123456-two"]);
    expect(m.list()).toMatchObject([{ id: "ABCDEF123456-two", state: "running" }]);
  });

  it("never deletes a listed VM whose node or cluster marks are not exactly ours", async () => {
    // A provider whose listing matches loosely (case, prefix) must not cost another cluster its VMs.
    provider.listOwnedVms = async () => [...provider.vms.values()];
    await placeVm("podvm-theirs", "t1", { node: "n1", cluster: "c1-staging", sandboxId: "x" });
    await placeVm("podvm-elsewhere", "t2", { node: "N1", cluster: "c1", sandboxId: "y" });
    await placeVm("podvm-ours", "t3", { node: "n1", cluster: "c1", sandboxId: "gone" });
    const m = await manager();
    expect(await m.sweep(never())).toEqual({ finishedStops: [], orphansDeleted: [] });
    expect([...provider.vms.values()].map((v) => v.name).sort()).toEqual(["podvm-elsewhere", "podvm-theirs"]);
  });

  it("reconciles after a restart: serves running, rolls back starting, finishes stopping, deletes orphans", async () => {
    const m1 = await manager({ limit: 10 });
    for (const id of ["run", "half", "stop"]) await m1.create(id, {}, "");
    await m1.start("run", never());
    await m1.start("stop", never());
    // Simulate crashes: a start that recorded intent and made a VM, a stop that recorded intent.
    const store = await SandboxStore.open(dir);
    const half = (await store.get("half"))!;
    await store.put({ ...half, state: "starting", vm: { name: "podvm-half", token: "t-half" } });
    await placeVm("podvm-half", "t-half", { node: "n1", cluster: "c1", sandboxId: "half" });
    const stopRec = (await store.get("stop"))!;
    await store.put({ ...stopRec, state: "stopping" });
    await placeVm("podvm-orphan", "t-orphan", { node: "n1", cluster: "c1", sandboxId: "gone" });
    await placeVm("podvm-other", "t-other", { node: "n2", cluster: "c1", sandboxId: "x" });
    relays.live.clear();

    const m2 = new SandboxManager(options(store, { limit: 10, socketLingerMs: undefined }));
    const report = await m2.reconcile(never());
    expect(report.served).toEqual(["run"]);
    expect(report.rolledBack).toEqual(["half"]);
    expect(report.finishedStops).toEqual(["stop"]);
    expect(report.orphansDeleted).toEqual(["podvm-orphan"]);
    expect([...relays.live.keys()]).toEqual(["run"]);
    expect([...provider.vms.values()].map((v) => v.name).sort()).toEqual(["podvm-other", vmOf("run")].sort());
    expect(
      m2
        .list()
        .map((s) => [s.id, s.state])
        .sort(),
    ).toEqual([
      ["half", "failed"],
      ["run", "running"],
    ]);
  });

  describe("with a warm pool", () => {
    const POOL_OWNER = { sandboxId: "_warm-pool", node: "n1", cluster: "c1" };
    /** A pool of one VM that the memory provider already runs, as src/pool keeps them. */
    async function poolOf(refuse: boolean, agentReady = false) {
      const vm = await placeVm("podvm-pool-00000001-0000000000000001", "pt", POOL_OWNER);
      const pushed: { sandboxId: string; files: readonly { path: string; content: string }[] }[] = [];
      let offered = true;
      const handedOver: string[] = [];
      const pool: WarmPoolPort = {
        take: () => {
          if (!offered) return { miss: "empty" };
          offered = false;
          return { vm: { name: vm.name, token: "pt", id: vm.id, address: vm.address!, instanceType: undefined } };
        },
        handedOver: async (name) => void handedOver.push(name),
        claim: async (_vm, sandboxId, files) => {
          if (refuse) throw new Error("pool VM refused the claim: already claimed");
          pushed.push({ sandboxId, files });
          return { agentReady };
        },
      };
      return { vm, pool, pushed, handedOver };
    }
    const NODE_INITDATA = 'version = "0.1.0"\nalgorithm = "sha256"\n[data]\n';
    const auth = { auths: { "registry.example": { auth: "dXNlcjpwYXNz" } } };
    const registryAuth = { source: "test", forPod: async () => auth };

    it("claims a pool VM: the record names it first, the claim carries exactly what a cold VM's user-data carries", async () => {
      const { vm, pool, pushed, handedOver } = await poolOf(false);
      const outcomes: string[] = [];
      const paths: string[] = [];
      const m = await manager({
        pool,
        onPoolOutcome: (o) => outcomes.push(o),
        onStarted: (p) => paths.push(p),
        defaultInitdata: NODE_INITDATA,
        registryAuth,
      });
      await m.create("warm", {}, "/var/run/netns/p1");
      await m.start("warm", never());
      await m.create("cold", {}, "/var/run/netns/p2");
      await m.start("cold", never());
      expect(outcomes).toEqual(["claimed", "empty"]);
      expect(paths).toEqual(["warm", "cold"]);
      expect(handedOver).toEqual([vm.name]);
      expect(m.list().find((s) => s.id === "warm")).toMatchObject({
        state: "running",
        vmName: vm.name,
        address: vm.address,
      });
      expect(relays.live.get("warm")).toEqual({ host: vm.address, port: 15150 });
      expect(m.holdsVm(vm.name)).toBe(true);
      // Same files, same order, same modes as the cold sandbox's user-data; only the sandbox differs.
      const coldFiles = parseCloudConfig(
        [...provider.vms.values()].find((v) => v.owner.sandboxId === "cold")!.userData,
      );
      expect(pushed[0]!.files.map((f) => f.path)).toEqual(coldFiles.map((f) => f.path));
      expect(pushed[0]!.files.find((f) => f.path === INITDATA_PATH)!.content).toBe(NODE_INITDATA);
      expect(JSON.parse(pushed[0]!.files.find((f) => f.path === REGISTRY_AUTH_PATH)!.content)).toEqual(auth);
      expect(coldFiles.find((f) => f.path === REGISTRY_AUTH_PATH)!.content).toBe(
        pushed[0]!.files.find((f) => f.path === REGISTRY_AUTH_PATH)!.content,
      );
      expect(JSON.parse(pushed[0]!.files[0]!.content)).toMatchObject({
        sandboxId: "warm",
        podNetwork: { vni: expect.any(Number) },
      });
      // A restart finds the claimed VM (pool marks, named by the record) no orphan.
      const m2 = await manager({ pool });
      expect(m2.list().find((s) => s.id === "warm")).toMatchObject({ state: "running", vmName: vm.name });
      expect([...provider.vms.values()].map((v) => v.name)).toContain(vm.name);
      // StopVM deletes the pool VM, by its exact pool marks: single use.
      await m2.stop("warm", never());
      expect([...provider.vms.values()].map((v) => v.name)).not.toContain(vm.name);
    });

    it("a claim reply vouching for the agent spares the wait for the forwarder; without it StartVM waits as when cold", async () => {
      const vouched = await poolOf(false, true);
      const m = await manager({ pool: vouched.pool });
      await m.create("vouched", {}, "");
      await m.start("vouched", never());
      expect(m.list()[0]).toMatchObject({ state: "running", vmName: vouched.vm.name });
      expect(relays.live.get("vouched")).toEqual({ host: vouched.vm.address, port: 15150 });
      expect(relays.waited).toEqual([]);
      const silent = await poolOf(false, false);
      const m2 = await manager({ pool: silent.pool });
      await m2.create("silent", {}, "");
      await m2.start("silent", never());
      expect(relays.waited).toEqual(["silent"]);
    });

    it("a refused claim deletes the pool VM and starts the pod cold in the same StartVM", async () => {
      const { vm, pool } = await poolOf(true);
      const outcomes: string[] = [];
      const m = await manager({ pool, onPoolOutcome: (o) => outcomes.push(o) });
      await m.create("sb", {}, "");
      await m.start("sb", never());
      expect(outcomes).toEqual(["claim_failed"]);
      expect([...provider.vms.values()].map((v) => v.name)).toEqual([m.list()[0]!.vmName]);
      expect(m.list()[0]!.vmName).toBe(vmOf("sb"));
      expect(m.holdsVm(vm.name)).toBe(false);
    });

    it("a failure right after the claim rolls the start back and deletes the claimed VM", async () => {
      const { vm, pool } = await poolOf(false);
      const m = await manager({
        pool,
        failpoint: {
          name: "start-after-claim",
          hit: () => {
            throw new Error("crash");
          },
        },
      });
      await m.create("sb", {}, "");
      await expect(m.start("sb", never())).rejects.toThrow();
      expect(m.list()[0]).toMatchObject({ state: "failed" });
      expect(provider.vms.size).toBe(0);
      expect(m.holdsVm(vm.name)).toBe(true); // until StopVM forgets the sandbox
    });

    it("never deletes an unclaimed pool VM as an orphan: it is the pool's", async () => {
      const { vm } = await poolOf(false);
      const m = await manager();
      expect((await m.sweep(never())).orphansDeleted).toEqual([]);
      expect([...provider.vms.values()].map((v) => v.name)).toEqual([vm.name]);
    });
  });
});
