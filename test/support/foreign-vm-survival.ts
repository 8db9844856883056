// A VM whose name a sandbox of ours records, but whose marks are someone else's (another
// cluster sharing the account, another node, another sandbox; a name collision such as the
// lower-cased id prefixes older daemons used): the sandbox manager, over a real provider,
// runs StopVM, a start-up rollback and a start-up finish of an interrupted stop for sandboxes
// whose records name that VM. The provider must leave it alone every time. The caller checks
// that the VM (and what goes with it) is still there.
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import type { Ownership, Provider } from "../../providers/provider.ts";
import type { AgentRelay, RelayFactory } from "../../src/sandbox/contracts.ts";
import {
  type ReconcileReport,
  SandboxManager,
  type SandboxRecord,
  type SandboxState,
  SandboxStore,
} from "../../src/sandbox/index.ts";

export interface ForeignVm {
  readonly name: string;
  /** The provider's id, as a record holds it once the create returned; undefined: by name. */
  readonly id: string | undefined;
  readonly owner: Ownership;
}

/** Relays that serve nothing: the manager's bookkeeping only. */
const idleRelays: RelayFactory = {
  create(): AgentRelay {
    return { start: async () => {}, stop: async () => {}, closed: Promise.resolve() };
  },
  async waitForForwarder() {},
};

/**
 * Records naming `foreign`'s VM for three sandboxes of `ours` (one failed, one starting, one
 * stopping), then a start-up reconcile (rolls the starting one back, finishes the stop) and a
 * StopVM of the failed one. When `foreign` is of our node and cluster, its own sandbox has a
 * running record, so the VM is claimed (an unclaimed one would be a true orphan).
 */
export async function actOnForeignVm(
  provider: Provider,
  ours: Omit<Ownership, "sandboxId">,
  foreign: ForeignVm,
): Promise<ReconcileReport & { readonly stopped: string }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "foreign-vm-"));
  const tag = randomBytes(3).toString("hex");
  const ids = { stop: `stop-${tag}`, roll: `roll-${tag}`, finish: `finish-${tag}` };
  const store = await SandboxStore.open(dir);
  const now = new Date().toISOString();
  const record = (id: string, state: SandboxState, vm: SandboxRecord["vm"]): SandboxRecord => ({
    version: 1,
    id,
    state,
    createdAt: now,
    updatedAt: now,
    annotations: {},
    networkNamespacePath: "",
    agentSocketPath: path.join(dir, "pods", id, "agent.ttrpc"),
    vm,
    attempt: 1,
  });
  await store.put(record(ids.stop, "failed", { name: foreign.name, token: "token-stop" }));
  await store.put(record(ids.roll, "starting", { name: foreign.name, token: "token-roll" }));
  await store.put(record(ids.finish, "stopping", { name: foreign.name, token: "token-finish", id: foreign.id }));
  if (foreign.owner.node === ours.node && foreign.owner.cluster === ours.cluster) {
    await store.put(
      record(foreign.owner.sandboxId, "running", {
        name: foreign.name,
        token: "token-owner",
        id: foreign.id,
        address: "192.0.2.10",
      }),
    );
  }
  const manager = new SandboxManager({
    store,
    provider,
    owner: ours,
    podsDir: path.join(dir, "pods"),
    limit: 10,
    forwarderPort: 15150,
    proxyTimeoutMs: 5000,
    relays: idleRelays,
    tls: undefined,
    tunnels: undefined,
    vniBase: 555000,
    vniCount: 16,
    vxlanPort: 4789,
    logger: pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" }),
    socketLingerMs: 0,
    cleanupTimeoutMs: 60_000,
  });
  try {
    const report = await manager.reconcile(AbortSignal.timeout(60_000));
    await manager.stop(ids.stop, AbortSignal.timeout(60_000));
    return { ...report, stopped: ids.stop };
  } finally {
    await manager.detach();
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** The three ways a VM of the same name can be someone else's, relative to `ours`. Its
 * sandbox is never one of those actOnForeignVm records for `ours`. */
export function foreignOwners(
  ours: Omit<Ownership, "sandboxId">,
): { readonly what: string; readonly owner: Ownership }[] {
  const sandboxId = `owner-${randomBytes(3).toString("hex")}`;
  return [
    { what: "another cluster's", owner: { sandboxId, node: ours.node, cluster: `${ours.cluster}-other` } },
    { what: "another node's", owner: { sandboxId, node: `${ours.node}-other`, cluster: ours.cluster } },
    { what: "another sandbox's", owner: { sandboxId, node: ours.node, cluster: ours.cluster } },
  ];
}
