// Peer VMs as clones of a vSphere template. The clone carries the ownership marks and the
// create's token in its extraConfig from its first moment, so after a crash at any point a
// retried create finds it by name (and token) and carries on, and reconciliation finds it by
// its marks. User-data reaches the guest as guestinfo keys read by cloud-init's VMware
// datasource; the address is the one VMware Tools reports.
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import {
  type CreateVmRequest,
  OWNERSHIP_KEYS,
  type Ownership,
  ownerText,
  type Provider,
  ProviderError,
  sameOwner,
  type VmInstance,
  type VmRef,
} from "../provider.ts";
import type { VsphereProviderConfig } from "./config.ts";
import { explainVimError } from "./explain-error.ts";
import { guestExtraConfig } from "./guest-config.ts";
import {
  type Datacenter,
  type Placement,
  PlacementProblem,
  PlacementProblems,
  resolveDatacenter,
  resolvePlacement,
  resolveVmFolder,
  type VmFolder,
} from "./placement.ts";
import {
  cloneVm,
  destroyVm,
  findByInventoryPath,
  isFault,
  type MoRef,
  moref,
  placeClone,
  powerOffVm,
  powerOnVm,
  type RelocateSpec,
  readRef,
  reconfigVm,
  retrieveObject,
  retrieveProperties,
  VimClient,
  type VmConfigSpec,
  type WaitOptions,
  waitForTask,
} from "./vim/index.ts";
import { toVmInstance, toVmView, VM_PROPERTIES, type VmView } from "./vm-view.ts";

export interface VsphereProviderOptions {
  readonly logger: Logger;
  /** Longest pause between two looks at a running task; default 2 s. */
  readonly taskPollMs?: number;
  /** Pause between two looks at the guest's address; default 2 s. */
  readonly addressPollMs?: number;
  /** Bound on undoing a create that failed; default 60 s. */
  readonly rollbackTimeoutMs?: number;
}

interface Site {
  readonly dc: Datacenter;
  readonly folder: VmFolder;
}

type OwnedVm = VmView & { readonly owner: Ownership };

interface Remembered<T> {
  get(signal: AbortSignal): Promise<T>;
  forget(): void;
}

/** Remembers a successful lookup; a failed one (or one cut short) is tried again next time. */
function remember<T>(load: (signal: AbortSignal) => Promise<T>): Remembered<T> {
  let pending: Promise<T> | undefined;
  return {
    get(signal) {
      if (pending === undefined) {
        const p = load(signal);
        p.catch(() => {
          if (pending === p) pending = undefined;
        });
        pending = p;
      }
      return pending;
    },
    forget() {
      pending = undefined;
    },
  };
}

/** Find, remove a stale VM, clone: a crashed attempt's clone can take its name once or twice. */
const MAX_CREATE_ROUNDS = 4;

/** vSphere wants memory in multiples of 4 MiB. */
function memoryMB(mib: number | undefined): number | undefined {
  return mib === undefined ? undefined : Math.ceil(mib / 4) * 4;
}

export class VsphereProvider implements Provider {
  readonly name = "vsphere";
  readonly #config: VsphereProviderConfig;
  readonly #logger: Logger;
  readonly #client: VimClient;
  readonly #taskWait: WaitOptions;
  readonly #addressPollMs: number;
  readonly #rollbackTimeoutMs: number;
  readonly #site: Remembered<Site>;
  readonly #placement: Remembered<Placement>;

  constructor(config: VsphereProviderConfig, options: VsphereProviderOptions) {
    this.#config = config;
    this.#logger = options.logger;
    this.#taskWait = { maxPollMs: options.taskPollMs ?? 2000 };
    this.#addressPollMs = options.addressPollMs ?? 2000;
    this.#rollbackTimeoutMs = options.rollbackTimeoutMs ?? 60_000;
    this.#client = new VimClient({
      url: config.sdkUrl,
      username: config.username,
      password: config.password,
      trust: config.trust,
    });
    if (config.trust.mode === "insecure") {
      this.#logger.warn(
        { url: config.sdkUrl.origin },
        "GOVC_INSECURE is set: vCenter's TLS certificate is not checked; pin it with GOVC_THUMBPRINT instead",
      );
    }
    this.#site = remember(async (signal) => {
      const dc = await resolveDatacenter(this.#client, config, signal);
      return { dc, folder: await resolveVmFolder(this.#client, config, dc, signal) };
    });
    this.#placement = remember(async (signal) =>
      resolvePlacement(this.#client, config, (await this.#site.get(signal)).dc, signal),
    );
  }

  async check(signal: AbortSignal): Promise<void> {
    const what = `vSphere provider check (GOVC_URL=${this.#config.sdkUrl.href})`;
    try {
      const sc = await this.#client.serviceContent(signal);
      if (sc.apiType !== "VirtualCenter") {
        throw new ProviderError(
          `GOVC_URL=${this.#config.sdkUrl.href} is ${sc.fullName || sc.apiType}, not vCenter: cloning from a template needs vCenter`,
        );
      }
      await this.#client.login(signal);
      this.#site.forget();
      this.#placement.forget();
      const dc = await resolveDatacenter(this.#client, this.#config, signal);
      // Both lookups run so that every wrong setting is named at once.
      const problems: PlacementProblem[] = [];
      const folder = await resolveVmFolder(this.#client, this.#config, dc, signal).catch((err: unknown) => {
        if (!(err instanceof PlacementProblem)) throw err;
        problems.push(err);
        return undefined;
      });
      const placement = await resolvePlacement(this.#client, this.#config, dc, signal).catch((err: unknown) => {
        if (!(err instanceof PlacementProblems)) throw err;
        problems.push(...err.errors);
        return undefined;
      });
      if (problems.length > 0) throw new PlacementProblems(problems);
      const unused = this.#config.drs
        ? [
            this.#config.host === undefined ? undefined : "GOVC_HOST",
            this.#config.datastore === undefined ? undefined : "GOVC_DATASTORE",
          ].filter((v) => v !== undefined)
        : [];
      if (unused.length > 0)
        this.#logger.warn(
          { ignored: unused },
          `GOVC_DRS=true: ${unused.join(" and ")} not used; DRS picks each clone's host and datastore (as upstream)`,
        );
      this.#logger.info(
        {
          drs: this.#config.drs,
          url: this.#config.sdkUrl.origin,
          server: sc.fullName,
          datacenter: dc.path,
          folder: folder!.path,
          template: placement!.template.value,
          pool: placement!.pool.value,
        },
        "vSphere provider ready",
      );
    } catch (err) {
      throw explainVimError(err, what, this.#config, signal);
    }
  }

  async createVm(req: CreateVmRequest, signal: AbortSignal): Promise<VmInstance> {
    const log = this.#logger.child({ vm: req.name, sandbox: req.owner.sandboxId });
    try {
      const site = await this.#site.get(signal);
      const placement = await this.#placement.get(signal);
      for (let round = 1; ; round++) {
        let vm = await this.findByName(site.folder, req.name, signal);
        if (vm !== undefined && !this.isFromThisCreate(vm, req, site.folder)) {
          log.info({ vmId: vm.ref.value, powerState: vm.powerState }, "removing the VM an earlier attempt left");
          await this.remove(vm.ref, signal);
          vm = undefined;
        }
        if (vm === undefined) {
          log.info({ template: placement.template.value, folder: site.folder.path }, "cloning the template");
          vm = await this.clone(site.folder, placement, req, signal);
          if (vm === undefined) {
            // The name is held by a clone still in progress: an earlier attempt's, whose task
            // outlived it. Wait until that VM shows, then reuse or replace it as above.
            if (round >= MAX_CREATE_ROUNDS)
              throw new ProviderError(`the name ${req.name} in ${site.folder.path} stays taken`, { retryable: true });
            log.info("the name is taken by a clone still in progress; waiting for it");
            await this.waitForName(site.folder, req.name, signal);
            continue;
          }
          log.info({ vmId: vm.ref.value }, "cloned the template");
        } else {
          log.info(
            { vmId: vm.ref.value, powerState: vm.powerState },
            "found the VM an earlier attempt of this create made",
          );
        }
        return await this.bootOrRollBack(vm, req, signal, log);
      }
    } catch (err) {
      throw explainVimError(err, `creating ${req.name}`, this.#config, signal);
    }
  }

  async deleteVm(vm: VmRef, signal: AbortSignal): Promise<void> {
    try {
      let found: VmView | undefined;
      if (vm.id !== undefined && vm.id !== "") {
        const content = await retrieveObject(this.#client, moref("VirtualMachine", vm.id), VM_PROPERTIES, signal);
        // An id names one VM for good, but check the name before destroying what it names.
        if (content !== undefined && toVmView(content).name === vm.name) found = toVmView(content);
      }
      found ??= await this.findByName((await this.#site.get(signal)).folder, vm.name, signal);
      if (found === undefined) return;
      if (found.template || !sameOwner(found.owner, vm.owner)) {
        // Another cluster's, node's or sandbox's VM (or nobody's): not ours, so ours is gone.
        this.#logger.warn(
          { vm: vm.name, vmId: found.ref.value, owner: found.owner, expected: vm.owner },
          `VM ${vm.name} (${found.ref.value}) belongs to ${ownerText(found.owner)}${found.template ? " and is a template" : ""}; left alone`,
        );
        return;
      }
      await this.remove(found.ref, signal);
      this.#logger.info({ vm: vm.name, vmId: found.ref.value }, "VM destroyed");
    } catch (err) {
      throw explainVimError(err, `deleting ${vm.name}`, this.#config, signal);
    }
  }

  async listOwnedVms(owner: Omit<Ownership, "sandboxId">, signal: AbortSignal): Promise<VmInstance[]> {
    try {
      const { folder } = await this.#site.get(signal);
      const found = await retrieveProperties(
        this.#client,
        [{ type: "VirtualMachine", pathSet: VM_PROPERTIES }],
        [
          {
            obj: folder.ref,
            skip: true,
            selectSet: [{ name: "folders", type: "Folder", path: "childEntity", selectSet: ["folders"] }],
          },
        ],
        signal,
      );
      return found
        .map(toVmView)
        .filter(
          (vm): vm is OwnedVm =>
            vm.owner !== undefined &&
            !vm.template &&
            vm.owner.node === owner.node &&
            vm.owner.cluster === owner.cluster,
        )
        .map(toVmInstance);
    } catch (err) {
      throw explainVimError(err, "listing peer VMs", this.#config, signal);
    }
  }

  async close(): Promise<void> {
    try {
      await this.#client.logout(AbortSignal.timeout(5000));
    } catch (err) {
      this.#logger.warn({ err: (err as Error).message }, "vCenter logout failed");
    } finally {
      this.#client.close();
    }
  }

  /** The VM of that name in the peer VMs' folder, if any. */
  private async findByName(folder: VmFolder, name: string, signal: AbortSignal): Promise<VmView | undefined> {
    const ref = await findByInventoryPath(this.#client, `${folder.path}/${name}`, signal);
    if (ref === undefined || ref.type !== "VirtualMachine") return undefined;
    const content = await retrieveObject(this.#client, ref, VM_PROPERTIES, signal);
    return content === undefined ? undefined : toVmView(content);
  }

  /** True when `vm` is this create's own (an earlier attempt with the same token); false when it
   * is an earlier create's leftover of the same sandbox; throws when it is not ours to touch. */
  private isFromThisCreate(vm: VmView, req: CreateVmRequest, folder: VmFolder): boolean {
    if (vm.owner === undefined) {
      throw new ProviderError(
        `a VM named ${req.name} already exists in ${folder.path} without the ${OWNERSHIP_KEYS.sandboxId} mark; it was left alone: rename or remove it`,
      );
    }
    if (!sameOwner(vm.owner, req.owner)) {
      throw new ProviderError(
        `a VM named ${req.name} in ${folder.path} belongs to ${ownerText(vm.owner)}, not to sandbox ${req.owner.sandboxId} on node ${req.owner.node} of cluster ${req.owner.cluster}; it was left alone`,
      );
    }
    return vm.token === req.token && !vm.template;
  }

  /** Clones the template; undefined when the folder already holds the name. */
  private async clone(
    folder: VmFolder,
    placement: Placement,
    req: CreateVmRequest,
    signal: AbortSignal,
  ): Promise<VmView | undefined> {
    const config: VmConfigSpec = {
      numCPUs: req.resources.vcpus,
      memoryMB: memoryMB(req.resources.memoryMiB),
      extraConfig: guestExtraConfig(req.name, req.token, req.owner, req.userData),
    };
    let location: RelocateSpec = { datastore: placement.datastore, pool: placement.pool, host: placement.host };
    let ref: MoRef | undefined;
    try {
      if (this.#config.drs) location = await this.drsPlacement(placement, req, config, signal);
      const task = await cloneVm(
        this.#client,
        placement.template,
        folder.ref,
        req.name,
        { location, template: false, config, powerOn: false },
        signal,
      );
      ref = readRef(await waitForTask(this.#client, task, "CloneVM_Task", signal, this.#taskWait));
    } catch (err) {
      if (isFault(err, "DuplicateName")) return undefined;
      // The template or the folder may have been moved since they were looked up.
      if (isFault(err, "ManagedObjectNotFound")) {
        this.#site.forget();
        this.#placement.forget();
      }
      throw err;
    }
    if (ref === undefined)
      throw new ProviderError(`CloneVM_Task for ${req.name} succeeded without naming the new VM`, { retryable: true });
    const content = await retrieveObject(this.#client, ref, VM_PROPERTIES, signal);
    if (content === undefined)
      throw new ProviderError(`the clone ${req.name} (${ref.value}) vanished right after it was made`, {
        retryable: true,
      });
    return toVmView(content);
  }

  /** GOVC_DRS: where the cluster's DRS recommends the clone go. */
  private async drsPlacement(
    placement: Placement,
    req: CreateVmRequest,
    config: VmConfigSpec,
    signal: AbortSignal,
  ): Promise<RelocateSpec> {
    const cluster = placement.cluster!;
    const spec = { location: { pool: placement.pool }, template: false, config, powerOn: false };
    const recommended = await placeClone(this.#client, cluster, placement.template, req.name, spec, signal);
    if (recommended?.host === undefined || recommended.datastore === undefined)
      throw new ProviderError(
        `GOVC_DRS=true: cluster ${this.#config.cluster} (${cluster.value}) gave no placement recommendation for ${req.name}; is DRS enabled on it?`,
        { retryable: true },
      );
    const location = { ...recommended, pool: recommended.pool ?? placement.pool };
    this.#logger.info(
      {
        vm: req.name,
        host: location.host?.value,
        datastore: location.datastore?.value,
        pool: location.pool.value,
      },
      "DRS placement",
    );
    return location;
  }

  /** Until a VM of that name is visible in the folder (a clone in progress becomes one). */
  private async waitForName(folder: VmFolder, name: string, signal: AbortSignal): Promise<void> {
    try {
      while ((await this.findByName(folder, name, signal)) === undefined)
        await sleep(this.#taskWait.maxPollMs ?? 2000, undefined, { signal });
    } catch (err) {
      if (!signal.aborted) throw err;
      throw new ProviderError(
        `the name ${name} in ${folder.path} is held by something that never became a VM before the deadline`,
        { retryable: true, cause: err },
      );
    }
  }

  private async bootOrRollBack(
    vm: VmView,
    req: CreateVmRequest,
    signal: AbortSignal,
    log: Logger,
  ): Promise<VmInstance> {
    try {
      return await this.boot(vm, req, signal, log);
    } catch (err) {
      // A fault (power-on refused, bad size) will not go away by itself: remove the clone. On a
      // deadline the manager deletes the VM itself, with a fresh deadline.
      if (!signal.aborted) {
        await this.remove(vm.ref, AbortSignal.timeout(this.#rollbackTimeoutMs)).catch((e: unknown) =>
          log.error({ vmId: vm.ref.value, err: (e as Error).message }, "could not remove the VM after a failed create"),
        );
      }
      throw err;
    }
  }

  private async boot(vm: VmView, req: CreateVmRequest, signal: AbortSignal, log: Logger): Promise<VmInstance> {
    if (vm.powerState !== "poweredOn") {
      // Explicitly: not every server applies a clone spec's CPU and memory.
      const spec: VmConfigSpec = {
        numCPUs:
          req.resources.vcpus !== undefined && req.resources.vcpus !== vm.numCPU ? req.resources.vcpus : undefined,
        memoryMB:
          req.resources.memoryMiB !== undefined && memoryMB(req.resources.memoryMiB) !== vm.memoryMB
            ? memoryMB(req.resources.memoryMiB)
            : undefined,
      };
      if (spec.numCPUs !== undefined || spec.memoryMB !== undefined) {
        await waitForTask(
          this.#client,
          await reconfigVm(this.#client, vm.ref, spec, signal),
          "ReconfigVM_Task",
          signal,
          this.#taskWait,
        );
      }
      log.info({ vmId: vm.ref.value, vcpus: req.resources.vcpus, memoryMiB: req.resources.memoryMiB }, "powering on");
      try {
        await waitForTask(
          this.#client,
          await powerOnVm(this.#client, vm.ref, signal),
          "PowerOnVM_Task",
          signal,
          this.#taskWait,
        );
      } catch (err) {
        // Powered on meanwhile (a power-on of a crashed attempt finishing): that is the goal.
        if (!isFault(err, "InvalidPowerState")) throw err;
      }
    }
    const ready = await this.waitForAddress(vm.ref, req.name, signal);
    return toVmInstance({ ...ready, owner: req.owner });
  }

  private async waitForAddress(ref: MoRef, name: string, signal: AbortSignal): Promise<VmView> {
    try {
      for (;;) {
        const content = await retrieveObject(this.#client, ref, VM_PROPERTIES, signal);
        if (content === undefined)
          throw new ProviderError(`${name} was deleted while waiting for its address`, { retryable: true });
        const vm = toVmView(content);
        if (vm.address !== undefined) return vm;
        if (vm.powerState === "poweredOff")
          throw new ProviderError(`${name} powered off before it reported an address`, { retryable: true });
        await sleep(this.#addressPollMs, undefined, { signal });
      }
    } catch (err) {
      if (!signal.aborted) throw err;
      throw new ProviderError(
        `${name} reported no IP address before the deadline: VMware Tools (open-vm-tools) must run in the template's guest, with a NIC on a network that gives it an address`,
        { retryable: true, cause: err },
      );
    }
  }

  /** Powers off (when needed) and destroys; a VM already gone is success. */
  private async remove(ref: MoRef, signal: AbortSignal): Promise<void> {
    try {
      const content = await retrieveObject(this.#client, ref, ["runtime.powerState"], signal);
      if (content === undefined) return;
      if (toVmView(content).powerState !== "poweredOff") {
        try {
          await waitForTask(
            this.#client,
            await powerOffVm(this.#client, ref, signal),
            "PowerOffVM_Task",
            signal,
            this.#taskWait,
          );
        } catch (err) {
          if (!isFault(err, "InvalidPowerState")) throw err; // already off
        }
      }
      await waitForTask(
        this.#client,
        await destroyVm(this.#client, ref, signal),
        "Destroy_Task",
        signal,
        this.#taskWait,
      );
    } catch (err) {
      if (isFault(err, "ManagedObjectNotFound")) return;
      throw err;
    }
  }
}
