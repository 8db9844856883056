// The contract every provider (cloud or local) fulfils for the sandbox manager. Providers know
// nothing of sandboxes' life cycle: they create, delete and list the VMs the daemon owns.
import type { Logger } from "pino";

/** Who owns a VM: set by the daemon as tags/labels/metadata so it can find its VMs again. */
export interface Ownership {
  readonly sandboxId: string;
  readonly node: string;
  readonly cluster: string;
}

/** True when a VM's marks are exactly `owner`'s: same sandbox, node and cluster. A VM whose
 * marks differ in any one, or that has none, is not ours to delete. */
export function sameOwner(marks: Ownership | undefined, owner: Ownership): boolean {
  return (
    marks !== undefined &&
    marks.sandboxId === owner.sandboxId &&
    marks.node === owner.node &&
    marks.cluster === owner.cluster
  );
}

/** For messages: whose a VM is, by its marks. */
export function ownerText(marks: Ownership | undefined): string {
  return marks === undefined
    ? "no peer pod (no ownership marks)"
    : `sandbox ${marks.sandboxId} on node ${marks.node} of cluster ${marks.cluster}`;
}

/** The ownership keys providers store on each VM (as tags, labels or metadata). */
export const OWNERSHIP_KEYS = {
  sandboxId: "peerpods.sandbox-id",
  node: "peerpods.node",
  cluster: "peerpods.cluster",
} as const;

/**
 * The `peerpods.sandbox-id` mark of a warm-pool VM (booted before any pod, claimed by one
 * later): node and cluster marks as on every VM, and this in place of a sandbox id. No sandbox
 * id can take this value (sandbox ids begin with a letter or digit). The mark stays after a
 * claim; the claiming sandbox's record names the VM from then on, and deletes it with exactly
 * these marks.
 */
export const POOL_SANDBOX_MARK = "_warm-pool";

/** True when the VM carries the warm pool's mark. */
export function isPoolVm(vm: { readonly owner: Ownership }): boolean {
  return vm.owner.sandboxId === POOL_SANDBOX_MARK;
}

/** What the pod asked for, from its annotations (undefined when not given). */
export interface ResourceRequest {
  readonly instanceType: string | undefined;
  readonly vcpus: number | undefined;
  readonly memoryMiB: number | undefined;
  readonly gpus: number | undefined;
  readonly image: string | undefined;
}

/** A request for nothing in particular: the provider's default size and image. */
export const NO_RESOURCES: ResourceRequest = Object.freeze({
  instanceType: undefined,
  vcpus: undefined,
  memoryMiB: undefined,
  gpus: undefined,
  image: undefined,
});

export interface CreateVmRequest {
  /** Stable name derived from the sandbox id, recorded before the call. */
  readonly name: string;
  /** Idempotency token recorded before the call: a retried create with the same token must
   * find the VM the first attempt made, never make a second one. */
  readonly token: string;
  readonly owner: Ownership;
  readonly resources: ResourceRequest;
  /** cloud-init user-data for the VM (forwarder configuration, TLS material). */
  readonly userData: string;
}

export interface VmInstance {
  /** The provider's id of the VM (instance id, domain uuid, process group id, ...). */
  readonly id: string;
  readonly name: string;
  /** Address the forwarder listens on, once known. */
  readonly address: string | undefined;
  readonly owner: Ownership;
  /** Provider-specific facts worth showing (instance type, zone, ...). */
  readonly details?: Readonly<Record<string, string>>;
}

/** A VM to delete: its id when known, its name, and the marks it must carry to be deleted. */
export interface VmRef {
  readonly id: string | undefined;
  readonly name: string;
  readonly owner: Ownership;
}

export interface Provider {
  readonly name: string;
  /** Checks configuration and reachability at start-up; throws naming what is wrong. */
  check(signal: AbortSignal): Promise<void>;
  /** Creates (or finds, by token/name) the VM and waits until it has an address. The signal
   * carries the call's deadline; on abort the provider stops and throws. */
  createVm(req: CreateVmRequest, signal: AbortSignal): Promise<VmInstance>;
  /** Deletes the VM; a VM already gone is success. `name` helps providers that look VMs up by
   * name when the create never returned an id. Only a VM whose marks are exactly `owner` is
   * deleted: one of that id or name with other marks (or none) is not ours and is left alone,
   * which counts as gone. */
  deleteVm(vm: VmRef, signal: AbortSignal): Promise<void>;
  /** Every VM carrying this node's and cluster's ownership marks. */
  listOwnedVms(owner: Omit<Ownership, "sandboxId">, signal: AbortSignal): Promise<VmInstance[]>;
  /** Releases connections and timers. */
  close(): Promise<void>;
}

/** Thrown by providers for failures an operator must act on (bad image, no quota, ...);
 * `retryable` tells the manager whether trying again later can help. */
export class ProviderError extends Error {
  readonly retryable: boolean;
  constructor(message: string, options: { retryable?: boolean; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = "ProviderError";
    this.retryable = options.retryable ?? false;
  }
}

/** What the daemon hands a provider's factory. */
export interface ProviderContext {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stateDir: string;
  readonly logger: Logger;
  readonly isRoot: boolean;
}

/** What each provider's index.ts exports for the registry (providers/index.ts). */
export interface ProviderFactory {
  readonly name: string;
  readonly description: string;
  /** Builds the provider from its environment variables; throws naming any bad variable. */
  create(ctx: ProviderContext): Provider;
}
