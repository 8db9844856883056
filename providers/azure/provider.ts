import { setTimeout as sleep } from "node:timers/promises";
import type { VirtualMachine } from "@azure/arm-compute";
import type { NetworkInterface } from "@azure/arm-network";
import type { Logger } from "pino";
import { chooseProviderInstanceType, type InstanceTypeChoice } from "../instance-types.ts";
import {
  type CreateVmRequest,
  type Ownership,
  ownerText,
  type Provider,
  ProviderError,
  sameOwner,
  type VmInstance,
  type VmRef,
} from "../provider.ts";
import {
  type ArmFailure,
  ArmOperationError,
  armFailure,
  capacityCode,
  describeFailure,
  isAbort,
  isConflictInProgress,
  isNotFound,
  isSignInFailure,
} from "./arm-error.ts";
import { AzureClients } from "./azure-clients.ts";
import type { AzureProviderConfig } from "./config.ts";
import { createCredential } from "./credential.ts";
import { type AzureVmNames, azureVmNames } from "./names.ts";
import { listOwnedResources } from "./owned-resources.ts";
import { type ArmResourceId, type ImageRef, isArmType, parseArmId, parseImageId, sameArmId } from "./resource-id.ts";
import { SizeCatalog } from "./size-catalog.ts";
import { throwawaySshPublicKey } from "./ssh-key.ts";
import { checkAzureSetup, signInError } from "./startup-check.ts";
import { nicSpec, ownerFromTags, ownershipTags, publicIpSpec, tokenFromTags, vmSpec } from "./vm-spec.ts";

/** Azure's limit on custom data: 64 KiB before base64. */
const MAX_CUSTOM_DATA_BYTES = 65_535;

/** What an earlier attempt left under the VM's names. */
interface Found {
  readonly vm: VirtualMachine | undefined;
  readonly nic: NetworkInterface | undefined;
}

/** Codes that mean "the resource is busy a moment": wait and try again within the deadline. */
const BUSY_CODES: ReadonlySet<string> = new Set([
  "AnotherOperationInProgress",
  "OperationPreempted",
  "RetryableError",
  "NicInUse",
  "NicReservedForAnotherVm",
]);

export interface AzureProviderOptions {
  /** PEM CA to trust instead of the system's: a private Resource Manager endpoint. Node also
   * honours NODE_EXTRA_CA_CERTS, which adds to the system's CAs. */
  readonly trustedCa?: string;
  /** Poll interval of long-running operations when Azure sends no Retry-After (default 5 s). */
  readonly pollIntervalMs?: number;
  /** Base delay of retried requests (429 without Retry-After, 5xx, dropped connections). */
  readonly retryDelayMs?: number;
}

/**
 * Peer VMs on Azure: each a NIC (ownership tags, subnet, NSG) and a VM (confidential unless
 * DISABLECVM) whose OS disk and NIC go when it goes. Everything is named after the VM name the
 * daemon records before calling, so a create retried after a crash finds what it made.
 */
export class AzureProvider implements Provider {
  readonly name = "azure";
  private readonly config: AzureProviderConfig;
  private readonly logger: Logger;
  private readonly clients: AzureClients;
  private readonly sizes: SizeCatalog;
  private readonly pollIntervalMs: number;
  private readonly trustedCa: string | undefined;
  private sshKey: Promise<string> | undefined;

  constructor(config: AzureProviderConfig, logger: Logger, options: AzureProviderOptions = {}) {
    this.config = config;
    this.logger = logger;
    const credential = createCredential(config.credential, {
      authorityHost: config.authorityHost,
      tlsOptions: options.trustedCa === undefined ? undefined : { ca: options.trustedCa },
    });
    this.clients = new AzureClients(credential, config.subscriptionId, config.resourceManagerEndpoint, {
      trustedCa: options.trustedCa,
      retryDelayMs: options.retryDelayMs ?? 1000,
      maxRetries: 10,
    });
    this.sizes = new SizeCatalog(this.clients.computeFor(), config.region);
    this.pollIntervalMs = options.pollIntervalMs ?? 5000;
    this.trustedCa = options.trustedCa;
  }

  async check(signal: AbortSignal): Promise<void> {
    await checkAzureSetup(this.config, this.clients, this.sizes, this.trustedCa, signal);
    await this.publicKey();
  }

  async createVm(req: CreateVmRequest, signal: AbortSignal): Promise<VmInstance> {
    const names = azureVmNames(req.name);
    if (names === undefined)
      throw new ProviderError(
        `VM name ${JSON.stringify(req.name)} is not a valid Azure VM name (1–64 letters, digits, - _ .)`,
      );
    if (Buffer.byteLength(req.userData) > MAX_CUSTOM_DATA_BYTES) {
      throw new ProviderError(
        `user-data for ${names.vm} is ${Buffer.byteLength(req.userData)} bytes; Azure custom data holds at most ${MAX_CUSTOM_DATA_BYTES}`,
      );
    }
    const image = this.imageFor(req);
    const log = this.logger.child({ vm: names.vm, sandbox: req.owner.sandboxId });
    let choice: InstanceTypeChoice;
    let found: Found;
    try {
      choice = await this.chooseSize(req, signal);
      found = await this.lookUp(names, req.owner, signal);
    } catch (err) {
      if (err instanceof ProviderError) throw err;
      if (signal.aborted || isAbort(err)) throw this.deadlineError(names, "creating", err);
      if (isSignInFailure(err)) throw signInError(this.config, err);
      const f = armFailure(err);
      throw new ProviderError(`preparing Azure VM ${names.vm}: ${describeFailure(f)}`, {
        retryable: f.status === undefined || f.status === 429 || f.status >= 500,
        cause: err,
      });
    }

    const sizes = [choice.name, ...choice.fallbacks];
    const tried: string[] = [];
    for (const [i, size] of sizes.entries()) {
      try {
        return await this.createWithSize(req, names, size, image, found, log, signal);
      } catch (err) {
        if (signal.aborted || isAbort(err)) throw this.deadlineError(names, "creating", err);
        if (isSignInFailure(err)) throw signInError(this.config, err);
        const f = armFailure(err);
        const capacity = capacityCode(f);
        log.warn({ size, code: f.code, err: f.message }, "VM create failed; removing what it made");
        const cleanup = await this.removeVmResources(names, req.owner, signal).then(
          () => undefined,
          (e: unknown) => describeFailure(armFailure(e)),
        );
        found = { vm: undefined, nic: undefined };
        tried.push(`${size} (${describeFailure(f)})`);
        if (
          capacity !== undefined &&
          choice.reason === "smallest-fit" &&
          i + 1 < sizes.length &&
          cleanup === undefined
        ) {
          log.warn(
            { size, next: sizes[i + 1], code: capacity },
            "no capacity for this size; trying the next fitting size",
          );
          continue;
        }
        throw this.createError(names, size, f, capacity, tried, cleanup, err);
      }
    }
    throw new Error("unreachable: the size list is never empty");
  }

  async deleteVm(vm: VmRef, signal: AbortSignal): Promise<void> {
    const ref = vm.id === undefined ? undefined : parseArmId(vm.id);
    try {
      if (ref !== undefined && !isArmType(ref, "Microsoft.Compute", "virtualMachines")) {
        await this.deleteById(ref, vm.owner, signal); // an orphan NIC, disk or public IP from listOwnedVms
        return;
      }
      const names = azureVmNames(vm.name);
      if (names === undefined) return; // no Azure resource can carry that name
      await this.removeVmResources(names, vm.owner, signal);
    } catch (err) {
      if (signal.aborted || isAbort(err)) throw this.deadlineError(azureVmNames(vm.name), "deleting", err);
      if (isSignInFailure(err)) throw signInError(this.config, err);
      const f = armFailure(err);
      throw new ProviderError(`deleting Azure VM ${vm.name}: ${describeFailure(f)}`, { retryable: true, cause: err });
    }
  }

  async listOwnedVms(owner: Omit<Ownership, "sandboxId">, signal: AbortSignal): Promise<VmInstance[]> {
    try {
      return await listOwnedResources(this.clients, this.config.resourceGroup, owner, signal);
    } catch (err) {
      if (isSignInFailure(err)) throw signInError(this.config, err);
      if (signal.aborted || isAbort(err))
        throw new ProviderError("deadline reached while listing Azure VMs, NICs and disks", {
          retryable: true,
          cause: err,
        });
      throw new ProviderError(
        `listing Azure VMs, NICs and disks in ${this.config.resourceGroup}: ${describeFailure(armFailure(err))}`,
        { retryable: true, cause: err },
      );
    }
  }

  async close(): Promise<void> {}

  // --- create -------------------------------------------------------------------------------

  private async createWithSize(
    req: CreateVmRequest,
    names: AzureVmNames,
    size: string,
    image: ImageRef,
    found: Found,
    log: Logger,
    signal: AbortSignal,
  ): Promise<VmInstance> {
    const tags = ownershipTags(req.owner, this.config.tags, req.token);
    let vm = found.vm;
    let nic = found.nic;
    if (vm !== undefined && (tokenFromTags(vm.tags) !== req.token || vm.provisioningState === "Failed")) {
      // Left by an attempt the daemon rolled back, or failed: its user-data is stale.
      log.info({ state: vm.provisioningState }, "removing a VM left by an earlier attempt");
      await this.removeVmResources(names, req.owner, signal);
      vm = undefined;
      nic = undefined;
    }
    if (vm === undefined) {
      const publicIpId = this.config.usePublicIp ? await this.ensurePublicIp(names, tags, signal) : undefined;
      const nicId = await this.ensureNic(names, tags, publicIpId, nic, signal);
      const spec = vmSpec({
        location: this.config.region,
        names,
        size,
        image,
        nicId,
        adminUsername: this.config.sshUsername,
        sshPublicKey: await this.publicKey(),
        userData: req.userData,
        confidential: this.config.confidentialVm,
        secureBoot: this.config.secureBoot,
        osDiskSizeGiB: this.config.osDiskSizeGiB,
        tags,
      });
      log.info({ size, confidential: this.config.confidentialVm }, "creating VM");
      try {
        vm = await this.clients
          .computeFor()
          .virtualMachines.createOrUpdate(this.config.resourceGroup, names.vm, spec, this.lro(signal));
      } catch (err) {
        // A dropped answer retried by the SDK meets the create it started: wait for it.
        if (!isConflictInProgress(armFailure(err))) throw err;
        vm = await this.waitForVm(names.vm, signal);
      }
    } else if (vm.provisioningState !== "Succeeded") {
      log.info({ state: vm.provisioningState }, "waiting for the VM an earlier attempt started");
      vm = await this.waitForVm(names.vm, signal);
    }
    await this.tagOsDisk(names, tags, log, signal);
    const address = await this.addressOf(names, signal);
    log.info({ size: vm.hardwareProfile?.vmSize ?? size, address }, "VM ready");
    return {
      id: vm.id ?? names.vm,
      name: names.vm,
      address,
      owner: req.owner,
      details: {
        kind: "vm",
        instanceType: vm.hardwareProfile?.vmSize ?? size,
        region: this.config.region,
        confidential: String(this.config.confidentialVm),
      },
    };
  }

  /** The VM and NIC an earlier attempt made, if any. Refuses when any resource of the VM's
   * names (VM, NIC, public IP, OS disk) is not exactly this sandbox's: another cluster's,
   * node's or sandbox's, or nobody's, it is left alone. */
  private async lookUp(names: AzureVmNames, owner: Ownership, signal: AbortSignal): Promise<Found> {
    const rg = this.config.resourceGroup;
    const network = this.clients.networkFor();
    const [vm, nic, ip, disk] = await Promise.all([
      this.getVm(names.vm, signal),
      this.getNic(names.nic, signal),
      this.ignoreNotFound(network.publicIPAddresses.get(rg, names.publicIp, { abortSignal: signal })),
      this.ignoreNotFound(this.clients.computeFor().disks.get(rg, names.osDisk, { abortSignal: signal })),
    ]);
    const check = (what: string, name: string, tags: Record<string, string> | undefined) => {
      const o = ownerFromTags(tags);
      if (sameOwner(o, owner)) return;
      throw new ProviderError(
        `Azure ${what} ${name} already exists in ${rg} and belongs to ${ownerText(o)}; it is left alone`,
      );
    };
    if (vm !== undefined) check("VM", names.vm, vm.tags);
    if (nic !== undefined) check("NIC", names.nic, nic.tags);
    if (ip !== undefined) check("public IP", names.publicIp, ip.tags);
    // The OS disk gets its tags after the VM is made: an untagged one our VM uses is its own.
    const ourVmsDisk = vm !== undefined && disk !== undefined && sameArmId(disk.managedBy, vm.id);
    if (disk !== undefined && !(ourVmsDisk && ownerFromTags(disk.tags) === undefined))
      check("disk", names.osDisk, disk.tags);
    return { vm, nic };
  }

  private async ensurePublicIp(
    names: AzureVmNames,
    tags: Record<string, string>,
    signal: AbortSignal,
  ): Promise<string> {
    const network = this.clients.networkFor();
    const existing = await this.ignoreNotFound(
      network.publicIPAddresses.get(this.config.resourceGroup, names.publicIp, { abortSignal: signal }),
    );
    if (existing?.id !== undefined) return existing.id;
    const ip = await network.publicIPAddresses.createOrUpdate(
      this.config.resourceGroup,
      names.publicIp,
      publicIpSpec({ location: this.config.region, tags }),
      this.lro(signal),
    );
    if (ip.id === undefined) throw new Error(`Azure returned public IP ${names.publicIp} without an id`);
    return ip.id;
  }

  private async ensureNic(
    names: AzureVmNames,
    tags: Record<string, string>,
    publicIpId: string | undefined,
    existing: NetworkInterface | undefined,
    signal: AbortSignal,
  ): Promise<string> {
    // One an earlier attempt made (ownership already checked) is reused as it is.
    if (
      existing?.id !== undefined &&
      existing.provisioningState === "Succeeded" &&
      existing.virtualMachine === undefined
    )
      return existing.id;
    const nic = await this.clients.networkFor().networkInterfaces.createOrUpdate(
      this.config.resourceGroup,
      names.nic,
      nicSpec({
        location: this.config.region,
        subnetId: this.config.subnet.id,
        nsgId: this.config.nsg?.id,
        publicIpId,
        tags,
      }),
      this.lro(signal),
    );
    if (nic.id === undefined) throw new Error(`Azure returned NIC ${names.nic} without an id`);
    return nic.id;
  }

  /** Disks made with a VM carry none of its tags: tag ours so orphans can be found. */
  private async tagOsDisk(
    names: AzureVmNames,
    tags: Record<string, string>,
    log: Logger,
    signal: AbortSignal,
  ): Promise<void> {
    try {
      await this.clients.computeFor().disks.update(this.config.resourceGroup, names.osDisk, { tags }, this.lro(signal));
    } catch (err) {
      if (signal.aborted) throw err;
      // The disk still goes with the VM; only an orphaned disk would escape the listing.
      log.warn({ disk: names.osDisk, err: describeFailure(armFailure(err)) }, "could not tag the OS disk");
    }
  }

  private async addressOf(names: AzureVmNames, signal: AbortSignal): Promise<string | undefined> {
    const network = this.clients.networkFor();
    if (this.config.usePublicIp) {
      const ip = await network.publicIPAddresses.get(this.config.resourceGroup, names.publicIp, {
        abortSignal: signal,
      });
      return ip.ipAddress;
    }
    const nic = await network.networkInterfaces.get(this.config.resourceGroup, names.nic, { abortSignal: signal });
    const config = nic.ipConfigurations?.find((c) => c.primary === true) ?? nic.ipConfigurations?.[0];
    return config?.privateIPAddress;
  }

  /** Polls a VM another request is creating until it settles; a Failed VM throws its code. */
  private async waitForVm(name: string, signal: AbortSignal): Promise<VirtualMachine> {
    for (;;) {
      const vm = await this.clients
        .computeFor()
        .virtualMachines.get(this.config.resourceGroup, name, { abortSignal: signal, expand: "instanceView" });
      if (vm.provisioningState === "Succeeded") return vm;
      if (vm.provisioningState === "Failed") {
        const status = vm.instanceView?.statuses?.find((s) => s.code?.startsWith("ProvisioningState/failed") === true);
        const code = status?.code?.split("/")[2] ?? "ProvisioningFailed";
        throw new ArmOperationError(code, status?.message ?? `VM ${name} is in Failed state`);
      }
      await sleep(this.pollIntervalMs, undefined, { signal });
    }
  }

  private imageFor(req: CreateVmRequest): ImageRef {
    const wanted = req.resources.image?.trim();
    if (wanted === undefined || wanted === "") return this.config.image;
    const image = parseImageId(wanted);
    if (image === undefined)
      throw new ProviderError(`the pod's image annotation ${JSON.stringify(wanted)} is not an Azure image id`);
    return image;
  }

  private async chooseSize(req: CreateVmRequest, signal: AbortSignal): Promise<InstanceTypeChoice> {
    const catalog = this.config.instanceSizes.length === 0 ? new Map() : await this.sizes.all(signal);
    const allowed = this.config.instanceSizes.flatMap((s) => {
      const spec = catalog.get(s.toLowerCase());
      return spec === undefined ? [] : [spec];
    });
    return chooseProviderInstanceType(req.resources, {
      allowed,
      defaultType: this.config.instanceSize,
      allowedVariable: "AZURE_INSTANCE_SIZES",
      defaultVariable: "AZURE_INSTANCE_SIZE",
    });
  }

  private publicKey(): Promise<string> {
    if (this.config.sshPublicKey !== undefined) return Promise.resolve(this.config.sshPublicKey);
    this.sshKey ??= throwawaySshPublicKey();
    return this.sshKey;
  }

  // --- delete -------------------------------------------------------------------------------

  /** The VM (its disk and NIC go with it), then whatever of ours is left; absent is fine.
   * Each is deleted only when its marks are exactly `owner`: one of those names that is
   * another's (or nobody's) is left alone, which counts as gone. */
  private async removeVmResources(names: AzureVmNames, owner: Ownership, signal: AbortSignal): Promise<void> {
    const rg = this.config.resourceGroup;
    const compute = this.clients.computeFor();
    const network = this.clients.networkFor();
    const o = { abortSignal: signal };
    const removed = await this.removeIfOurs(
      "VM",
      names.vm,
      owner,
      () => compute.virtualMachines.get(rg, names.vm, o),
      () => compute.virtualMachines.delete(rg, names.vm, this.lro(signal)),
      signal,
    );
    const nic = await this.removeIfOurs(
      "NIC",
      names.nic,
      owner,
      () => network.networkInterfaces.get(rg, names.nic, o),
      () => network.networkInterfaces.delete(rg, names.nic, this.lro(signal)),
      signal,
    );
    const ip = await this.removeIfOurs(
      "public IP",
      names.publicIp,
      owner,
      () => network.publicIPAddresses.get(rg, names.publicIp, o),
      () => network.publicIPAddresses.delete(rg, names.publicIp, this.lro(signal)),
      signal,
    );
    const disk = await this.removeIfOurs(
      "disk",
      names.osDisk,
      owner,
      () => compute.disks.get(rg, names.osDisk, o),
      () => compute.disks.delete(rg, names.osDisk, this.lro(signal)),
      signal,
    );
    if (removed || nic || ip || disk) this.logger.info({ vm: names.vm }, "VM, NIC, disk and public IP gone");
  }

  private async deleteById(ref: ArmResourceId, owner: Ownership, signal: AbortSignal): Promise<void> {
    const name = ref.names[0]!;
    const rg = ref.resourceGroup;
    const compute = this.clients.computeFor(ref.subscriptionId);
    const network = this.clients.networkFor(ref.subscriptionId);
    const o = { abortSignal: signal };
    let removed: boolean;
    if (isArmType(ref, "Microsoft.Network", "networkInterfaces"))
      removed = await this.removeIfOurs(
        "NIC",
        name,
        owner,
        () => network.networkInterfaces.get(rg, name, o),
        () => network.networkInterfaces.delete(rg, name, this.lro(signal)),
        signal,
      );
    else if (isArmType(ref, "Microsoft.Network", "publicIPAddresses"))
      removed = await this.removeIfOurs(
        "public IP",
        name,
        owner,
        () => network.publicIPAddresses.get(rg, name, o),
        () => network.publicIPAddresses.delete(rg, name, this.lro(signal)),
        signal,
      );
    else if (isArmType(ref, "Microsoft.Compute", "disks"))
      removed = await this.removeIfOurs(
        "disk",
        name,
        owner,
        () => compute.disks.get(rg, name, o),
        () => compute.disks.delete(rg, name, this.lro(signal)),
        signal,
      );
    else throw new ProviderError(`${ref.id} is not a resource the Azure provider makes`);
    if (removed) this.logger.info({ resource: ref.id }, "orphaned resource deleted");
  }

  /** Deletes the resource when its ownership tags are exactly `owner`; true when it did. One
   * that is absent, or another's, is not deleted (the latter logged and left alone). */
  private async removeIfOurs(
    kind: string,
    name: string,
    owner: Ownership,
    get: () => Promise<{ readonly tags?: Record<string, string> }>,
    remove: () => PromiseLike<void>,
    signal: AbortSignal,
  ): Promise<boolean> {
    const found = await this.ignoreNotFound(get());
    if (found === undefined) return false;
    const marks = ownerFromTags(found.tags);
    if (!sameOwner(marks, owner)) {
      this.logger.warn(
        { resource: name, owner: marks, expected: owner },
        `Azure ${kind} ${name} belongs to ${ownerText(marks)}, not to sandbox ${owner.sandboxId} on node ${owner.node} of cluster ${owner.cluster}; left alone`,
      );
      return false;
    }
    await this.whenIdle(remove, signal);
    return true;
  }

  /** Runs a delete; not found is success, "busy" codes are waited out within the deadline. */
  private async whenIdle(remove: () => PromiseLike<void>, signal: AbortSignal): Promise<void> {
    for (;;) {
      try {
        await remove();
        return;
      } catch (err) {
        const f = armFailure(err);
        if (isNotFound(f)) return;
        if (signal.aborted || f.code === undefined || !BUSY_CODES.has(f.code)) throw err;
        this.logger.debug({ code: f.code }, "resource busy; retrying the delete");
        await sleep(this.pollIntervalMs, undefined, { signal });
      }
    }
  }

  // --- helpers ------------------------------------------------------------------------------

  private lro(signal: AbortSignal) {
    return { abortSignal: signal, updateIntervalInMs: this.pollIntervalMs };
  }

  private getVm(name: string, signal: AbortSignal): Promise<VirtualMachine | undefined> {
    return this.ignoreNotFound(
      this.clients.computeFor().virtualMachines.get(this.config.resourceGroup, name, { abortSignal: signal }),
    );
  }

  private getNic(name: string, signal: AbortSignal) {
    return this.ignoreNotFound(
      this.clients.networkFor().networkInterfaces.get(this.config.resourceGroup, name, { abortSignal: signal }),
    );
  }

  private async ignoreNotFound<T>(p: Promise<T>): Promise<T | undefined> {
    try {
      return await p;
    } catch (err) {
      if (isNotFound(armFailure(err))) return undefined;
      throw err;
    }
  }

  private deadlineError(names: AzureVmNames | undefined, doing: string, cause: unknown): ProviderError {
    return new ProviderError(`deadline reached while ${doing} Azure VM ${names?.vm ?? "(unnamed)"}`, {
      retryable: true,
      cause,
    });
  }

  private createError(
    names: AzureVmNames,
    size: string,
    f: ArmFailure,
    capacity: string | undefined,
    tried: readonly string[],
    cleanup: string | undefined,
    cause: unknown,
  ): ProviderError {
    const left =
      cleanup === undefined ? "" : `; removing what it made also failed (${cleanup}), reconciliation will retry`;
    if (capacity === "QuotaExceeded") {
      return new ProviderError(
        `Azure quota exhausted creating VM ${names.vm} (size ${size}) in ${this.config.region}: ${f.message} — raise the quota or lower PEERPODS_LIMIT_PER_NODE${left}`,
        { retryable: true, cause },
      );
    }
    if (capacity !== undefined) {
      return new ProviderError(
        `Azure has no capacity for VM ${names.vm} in ${this.config.region}: tried ${tried.join(", ")} — add sizes to AZURE_INSTANCE_SIZES or try another region${left}`,
        { retryable: true, cause },
      );
    }
    const hint = hintFor(f);
    const retryable =
      f.status === undefined ? f.code === undefined || isConflictInProgress(f) : f.status === 429 || f.status >= 500;
    return new ProviderError(
      `Azure refused to create VM ${names.vm} (size ${size}): ${describeFailure(f)}${hint}${left}`,
      { retryable, cause },
    );
  }
}

/** Which setting an error most likely points at. */
function hintFor(f: ArmFailure): string {
  const text = `${f.code ?? ""} ${f.message}`;
  if (/securityProfile|confidential|SecurityType/i.test(text))
    return " (confidential VMs need a CVM size and image; DISABLECVM=true creates ordinary VMs)";
  if (/image|gallery/i.test(text)) return " (check AZURE_IMAGE_ID)";
  if (/subnet|virtualNetwork/i.test(text)) return " (check AZURE_SUBNET_ID)";
  if (/networkSecurityGroup|nsg/i.test(text)) return " (check AZURE_NSG_ID)";
  if (/vmSize|size/i.test(text)) return " (check AZURE_INSTANCE_SIZE / AZURE_INSTANCE_SIZES)";
  if (f.code === "AuthorizationFailed")
    return " (the identity lacks a permission; see the role in providers/azure/README.md)";
  return "";
}
