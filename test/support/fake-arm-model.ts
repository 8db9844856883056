// The state behind the fake Azure Resource Manager: one subscription, one resource group with a
// virtual network, subnet, NSG and images, and the VMs, NICs, disks and public IPs clients
// make. Behaves as Azure does where it matters to a client: long-running operations that go on
// without being polled, VMs that own their OS disk and NIC (delete options), NICs and disks
// that cannot be deleted while attached, a VM left in Failed state when its creation fails,
// error answers with Azure's codes.
import { randomUUID } from "node:crypto";

export class ArmHttpError extends Error {
  readonly status: number;
  readonly code: string;
  readonly headers: Readonly<Record<string, string>>;
  constructor(status: number, code: string, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.headers = headers;
  }
}

export interface ArmReply {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface FakeArmSize {
  readonly name: string;
  readonly vcpus: number;
  readonly memoryMiB: number;
  /** Offers confidential VMs (DCas/ECas families). */
  readonly confidential: boolean;
}

/** What a VM boots with, for a launcher that makes it real. */
export interface VmLaunch {
  readonly name: string;
  /** customData decoded: the cloud-init user-data. */
  readonly userData: string;
  readonly tags: Readonly<Record<string, string>>;
}

/** Makes the VMs real (e.g. as local provider VMs) and reports their address. */
export interface VmLauncher {
  launch(vm: VmLaunch): Promise<{ readonly privateIp: string }>;
  destroy(name: string): Promise<void>;
}

export interface ModelOptions {
  readonly subscriptionId: string;
  readonly resourceGroup: string;
  readonly location: string;
  readonly sizes: readonly FakeArmSize[];
  readonly launcher: VmLauncher | undefined;
  /** How long a long-running operation takes besides the launch. */
  readonly operationMs: number;
  /** Retry-After (seconds) sent with long-running operation answers. */
  readonly retryAfterSeconds: number;
}

type OpStatus = "InProgress" | "Succeeded" | "Failed";

interface Operation {
  readonly id: string;
  readonly namespace: string;
  readonly apiVersion: string;
  readonly started: Date;
  status: OpStatus;
  ended: Date | undefined;
  error: { code: string; message: string } | undefined;
}

interface VmRecord {
  readonly id: string;
  readonly name: string;
  readonly location: string;
  tags: Record<string, string>;
  readonly vmId: string;
  readonly size: string;
  /** The accepted properties, without customData (Azure never returns it). */
  readonly properties: Record<string, unknown>;
  readonly userData: string;
  readonly nics: readonly { readonly id: string; readonly deleteOption: string }[];
  readonly osDisk: { readonly key: string; readonly deleteOption: string };
  provisioningState: "Creating" | "Succeeded" | "Failed" | "Deleting";
  failure: { code: string; message: string } | undefined;
  readonly timeCreated: string;
  /** Settles when the launcher is done with this VM (launched or failed). */
  launch: Promise<void> | undefined;
  launched: boolean;
}

interface NicRecord {
  readonly id: string;
  readonly name: string;
  readonly location: string;
  tags: Record<string, string>;
  subnetId: string;
  nsgId: string | undefined;
  publicIp: { readonly id: string; readonly deleteOption: string } | undefined;
  privateIp: string;
  vmId: string | undefined;
  readonly resourceGuid: string;
  provisioningState: "Succeeded" | "Deleting";
}

interface DiskRecord {
  readonly id: string;
  readonly name: string;
  readonly location: string;
  tags: Record<string, string>;
  managedBy: string | undefined;
  readonly securityType: string | undefined;
  readonly timeCreated: string;
}

interface PublicIpRecord {
  readonly id: string;
  readonly name: string;
  readonly location: string;
  tags: Record<string, string>;
  readonly ipAddress: string;
  ipConfigurationId: string | undefined;
  provisioningState: "Succeeded" | "Deleting";
}

type Json = Record<string, unknown>;

const NAME = /^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,78}[A-Za-z0-9_])?$/;

export class FakeArmModel {
  readonly o: ModelOptions;
  readonly baseUrl: () => string;
  readonly vms = new Map<string, VmRecord>();
  readonly nics = new Map<string, NicRecord>();
  readonly disks = new Map<string, DiskRecord>();
  readonly publicIps = new Map<string, PublicIpRecord>();
  readonly operations = new Map<string, Operation>();
  readonly vnet = "vnet-peerpods";
  readonly subnet = "subnet-peerpods";
  readonly nsg = "nsg-peerpods";
  readonly managedImage = "podvm-image";
  readonly gallery = "gallery_peerpods";
  readonly galleryImage = "podvm";
  readonly galleryVersion = "1.0.0";
  readonly communityGallery = "peerpods-3f2a1b";
  /** Failures the next VM creations end with, by VM size ("*" for any). */
  readonly pendingFailures: { size: string; code: string; message: string }[] = [];
  /** Errors raised by the launcher or background work, for tests to assert on. */
  readonly backgroundErrors: string[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private nextIp = 4;
  private nextPublicIp = 10;

  constructor(options: ModelOptions, baseUrl: () => string) {
    this.o = options;
    this.baseUrl = baseUrl;
  }

  // --- ids ----------------------------------------------------------------------------------

  rgId(): string {
    return `/subscriptions/${this.o.subscriptionId}/resourceGroups/${this.o.resourceGroup}`;
  }
  idOf(namespace: string, type: string, name: string): string {
    return `${this.rgId()}/providers/${namespace}/${type}/${name}`;
  }
  subnetId(): string {
    return `${this.idOf("Microsoft.Network", "virtualNetworks", this.vnet)}/subnets/${this.subnet}`;
  }
  nsgId(): string {
    return this.idOf("Microsoft.Network", "networkSecurityGroups", this.nsg);
  }
  managedImageId(): string {
    return this.idOf("Microsoft.Compute", "images", this.managedImage);
  }
  galleryImageId(): string {
    return `${this.idOf("Microsoft.Compute", "galleries", this.gallery)}/images/${this.galleryImage}`;
  }
  galleryImageVersionId(): string {
    return `${this.galleryImageId()}/versions/${this.galleryVersion}`;
  }
  communityImageId(): string {
    return `/CommunityGalleries/${this.communityGallery}/Images/${this.galleryImage}/Versions/${this.galleryVersion}`;
  }

  // --- long-running operations --------------------------------------------------------------

  /** Starts an operation that runs `work` after the operation time, whether polled or not. */
  private startOperation(namespace: string, apiVersion: string, work: () => Promise<void>): Operation {
    const op: Operation = {
      id: randomUUID(),
      namespace,
      apiVersion,
      started: new Date(),
      status: "InProgress",
      ended: undefined,
      error: undefined,
    };
    this.operations.set(op.id, op);
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      work().then(
        () => this.endOperation(op, undefined),
        (err: unknown) => {
          if (err instanceof ArmHttpError) this.endOperation(op, { code: err.code, message: err.message });
          else {
            this.backgroundErrors.push(String(err));
            this.endOperation(op, {
              code: "InternalServerError",
              message: "An unexpected error occured while processing the request.",
            });
          }
        },
      );
    }, this.o.operationMs);
    this.timers.add(timer);
    return op;
  }

  private endOperation(op: Operation, error: { code: string; message: string } | undefined): void {
    op.status = error === undefined ? "Succeeded" : "Failed";
    op.error = error;
    op.ended = new Date();
  }

  /** Azure-AsyncOperation (and Location for deletes) headers for an operation. */
  asyncHeaders(op: Operation, withLocation: boolean): Record<string, string> {
    const base = `${this.baseUrl()}/subscriptions/${this.o.subscriptionId}/providers/${op.namespace}/locations/${this.o.location}`;
    const headers: Record<string, string> = {
      "azure-asyncoperation": `${base}/operations/${op.id}?p=${randomUUID()}&api-version=${op.apiVersion}`,
      "retry-after": String(this.o.retryAfterSeconds),
    };
    if (withLocation)
      headers.location = `${base}/operationResults/${op.id}?p=${randomUUID()}&api-version=${op.apiVersion}`;
    return headers;
  }

  pollOperation(id: string): ArmReply {
    const op = this.operations.get(id);
    if (op === undefined) throw new ArmHttpError(404, "NotFound", `The operation '${id}' could not be found.`);
    const body: Json = { name: op.id, status: op.status, startTime: op.started.toISOString() };
    if (op.ended !== undefined) body.endTime = op.ended.toISOString();
    if (op.error !== undefined) body.error = { code: op.error.code, message: op.error.message };
    return {
      status: 200,
      body,
      headers: op.status === "InProgress" ? { "retry-after": String(this.o.retryAfterSeconds) } : {},
    };
  }

  operationResult(id: string): ArmReply {
    const op = this.operations.get(id);
    if (op === undefined) throw new ArmHttpError(404, "NotFound", `The operation '${id}' could not be found.`);
    if (op.status === "InProgress")
      return { status: 202, headers: { "retry-after": String(this.o.retryAfterSeconds) } };
    if (op.status === "Failed") throw new ArmHttpError(400, op.error!.code, op.error!.message);
    return { status: 204 };
  }

  // --- virtual machines ---------------------------------------------------------------------

  putVm(name: string, body: Json, apiVersion: string): ArmReply {
    const key = name.toLowerCase();
    const existing = this.vms.get(key);
    if (existing !== undefined) {
      if (existing.provisioningState !== "Succeeded" && existing.provisioningState !== "Failed") {
        throw new ArmHttpError(
          409,
          "AnotherOperationInProgress",
          `Operation 'PUT' on VM '${existing.name}' could not be completed: another operation on this or dependent resource is in progress.`,
        );
      }
      // An update: this model only lets tags change (the rest is immutable here).
      existing.tags = tagsOf(body);
      return { status: 200, body: this.vmJson(existing, false) };
    }
    if (!NAME.test(name) || name.length > 64)
      throw new ArmHttpError(
        400,
        "InvalidResourceName",
        `Resource name ${name} is invalid. The name can be up to 64 characters long.`,
      );
    const location = requireLocation(body);
    const props = objectAt(body, "properties");
    const size = stringAt(objectAt(props, "hardwareProfile"), "vmSize");
    const sizeSpec = this.o.sizes.find((s) => s.name.toLowerCase() === (size ?? "").toLowerCase());
    if (size === undefined || sizeSpec === undefined) {
      throw new ArmHttpError(
        400,
        "InvalidParameter",
        `The value ${size ?? "(none)"} provided for the VM size is not valid. The valid sizes in the current region are: ${this.o.sizes.map((s) => s.name).join(",")}.`,
      );
    }
    const storage = objectAt(props, "storageProfile");
    this.checkImage(objectAt(storage, "imageReference"));
    const osDisk = objectAt(storage, "osDisk");
    if (stringAt(osDisk, "createOption") !== "FromImage")
      throw new ArmHttpError(
        400,
        "InvalidParameter",
        "Required parameter 'osDisk.createOption' is missing or invalid.",
      );
    const os = objectAt(props, "osProfile");
    const computerName = stringAt(os, "computerName") ?? "";
    if (computerName === "" || computerName.length > 64 || /[_.~!@#$%^&*()=+[\]{}\\|;:'",<>/?]/.test(computerName)) {
      throw new ArmHttpError(
        400,
        "InvalidParameter",
        `Linux host name cannot exceed 64 characters in length or contain the following characters: \`~!@#$%^&*()=+_[]{}\\|;:.'",<>/?. (computerName ${computerName})`,
      );
    }
    if (stringAt(os, "adminUsername") === undefined)
      throw new ArmHttpError(400, "InvalidParameter", "Required parameter 'adminUsername' is missing (null).");
    const linux = objectAt(os, "linuxConfiguration");
    const keys = arrayAt(objectAt(linux, "ssh"), "publicKeys");
    if (
      linux.disablePasswordAuthentication === true &&
      (keys.length === 0 || !keys.every((k) => /^(ssh-|ecdsa-)/.test(stringAt(k as Json, "keyData") ?? "")))
    ) {
      throw new ArmHttpError(
        400,
        "InvalidParameter",
        "Destination path for SSH public keys is currently limited to its default value due to a known issue in Linux provisioning agent; a valid SSH public key is required when password authentication is disabled.",
      );
    }
    const customData = stringAt(os, "customData") ?? "";
    if (customData.length > 87_380 || !/^[A-Za-z0-9+/]*={0,2}$/.test(customData)) {
      throw new ArmHttpError(
        400,
        "InvalidParameter",
        "Custom data in OSProfile must be in Base64 encoding and with a maximum length of 87380 characters.",
      );
    }
    this.checkSecurity(props, osDisk, sizeSpec);
    const nicRefs = arrayAt(objectAt(props, "networkProfile"), "networkInterfaces").map((r) => {
      const ref = r as Json;
      return {
        id: stringAt(ref, "id") ?? "",
        deleteOption: stringAt(objectAt(ref, "properties"), "deleteOption") ?? "Detach",
      };
    });
    if (nicRefs.length === 0)
      throw new ArmHttpError(400, "InvalidParameter", "Required parameter 'networkProfile' is missing (null).");
    const id = this.idOf("Microsoft.Compute", "virtualMachines", name);
    const nics = nicRefs.map((ref) => {
      const nic = this.nicById(ref.id);
      if (nic === undefined)
        throw new ArmHttpError(
          400,
          "InvalidResourceReference",
          `Resource ${ref.id} referenced by resource ${id} was not found. Please make sure that the referenced resource exists, and that both resources are in the same region.`,
        );
      if (nic.vmId !== undefined)
        throw new ArmHttpError(
          400,
          "NicInUse",
          `Network Interface ${nic.id} is used by existing resource ${nic.vmId}. In order to use the network interface, it must be dissociated from the resource.`,
        );
      if (nic.location.toLowerCase() !== location.toLowerCase())
        throw new ArmHttpError(
          400,
          "NicNotInSameLocation",
          `The network interface ${nic.id} is in location ${nic.location}, not ${location}.`,
        );
      return nic;
    });

    const diskName = stringAt(osDisk, "name") ?? `${name}_OsDisk_1_${randomUUID().replaceAll("-", "")}`;
    const diskKey = diskName.toLowerCase();
    if (this.disks.has(diskKey))
      throw new ArmHttpError(
        409,
        "ConflictingUserInput",
        `Disk ${diskName} already exists in resource group ${this.o.resourceGroup.toUpperCase()}. Only CreateOption.Attach is supported.`,
      );
    const now = new Date().toISOString();
    const diskId = this.idOf("Microsoft.Compute", "disks", diskName);
    const stored: Json = structuredClone(props);
    delete (stored.osProfile as Json).customData;
    (stored.storageProfile as Json).osDisk = {
      ...osDisk,
      name: diskName,
      managedDisk: { ...objectAt(osDisk, "managedDisk"), id: diskId },
    };
    const vm: VmRecord = {
      id,
      name,
      location,
      tags: tagsOf(body),
      vmId: randomUUID(),
      size: sizeSpec.name,
      properties: stored,
      userData: Buffer.from(customData, "base64").toString("utf8"),
      nics: nicRefs,
      osDisk: { key: diskKey, deleteOption: stringAt(osDisk, "deleteOption") ?? "Detach" },
      provisioningState: "Creating",
      failure: undefined,
      timeCreated: now,
      launch: undefined,
      launched: false,
    };
    this.vms.set(key, vm);
    // Azure attaches the NIC and makes the disk (without the VM's tags) as the create starts.
    for (const nic of nics) nic.vmId = id;
    this.disks.set(diskKey, {
      id: diskId,
      name: diskName,
      location,
      tags: {},
      managedBy: id,
      securityType: stringAt(objectAt(objectAt(osDisk, "managedDisk"), "securityProfile"), "securityEncryptionType"),
      timeCreated: now,
    });

    const failureIndex = this.pendingFailures.findIndex(
      (f) => f.size === "*" || f.size.toLowerCase() === sizeSpec.name.toLowerCase(),
    );
    const failure = failureIndex < 0 ? undefined : this.pendingFailures.splice(failureIndex, 1)[0];
    if (failure === undefined && this.o.launcher !== undefined) {
      const launcher = this.o.launcher;
      vm.launch = launcher.launch({ name, userData: vm.userData, tags: { ...vm.tags } }).then(
        ({ privateIp }) => {
          vm.launched = true;
          for (const nic of nics) nic.privateIp = privateIp;
        },
        (err: unknown) => {
          this.backgroundErrors.push(`launching ${name}: ${String(err)}`);
          throw new ArmHttpError(
            200,
            "OSProvisioningTimedOut",
            `OS Provisioning for VM '${name}' did not finish in the allotted time.`,
          );
        },
      );
    }
    const op = this.startOperation("Microsoft.Compute", apiVersion, async () => {
      try {
        if (failure !== undefined) throw new ArmHttpError(200, failure.code, failure.message);
        await vm.launch;
        if (vm.provisioningState === "Creating") vm.provisioningState = "Succeeded";
      } catch (err) {
        if (vm.provisioningState === "Creating") {
          vm.provisioningState = "Failed";
          if (err instanceof ArmHttpError) vm.failure = { code: err.code, message: err.message };
        }
        throw err;
      }
    });
    return { status: 201, body: this.vmJson(vm, false), headers: this.asyncHeaders(op, false) };
  }

  getVm(name: string, expand: string | undefined): ArmReply {
    const vm = this.vms.get(name.toLowerCase());
    if (vm === undefined) throw notFound("Microsoft.Compute/virtualMachines", name, this.o.resourceGroup);
    return { status: 200, body: this.vmJson(vm, expand?.toLowerCase() === "instanceview") };
  }

  listVms(): Json[] {
    return [...this.vms.values()].map((vm) => this.vmJson(vm, false));
  }

  deleteVm(name: string, apiVersion: string): ArmReply {
    const vm = this.vms.get(name.toLowerCase());
    if (vm === undefined) return { status: 204 };
    if (vm.provisioningState === "Deleting")
      throw new ArmHttpError(409, "AnotherOperationInProgress", `VM '${vm.name}' is already being deleted.`);
    vm.provisioningState = "Deleting";
    const op = this.startOperation("Microsoft.Compute", apiVersion, async () => {
      await vm.launch?.catch(() => {});
      if (vm.launched && this.o.launcher !== undefined) await this.o.launcher.destroy(vm.name);
      this.vms.delete(vm.name.toLowerCase());
      for (const ref of vm.nics) {
        const nic = this.nicById(ref.id);
        if (nic === undefined) continue;
        nic.vmId = undefined;
        if (ref.deleteOption === "Delete") this.removeNic(nic);
      }
      const disk = this.disks.get(vm.osDisk.key);
      if (disk !== undefined) {
        if (vm.osDisk.deleteOption === "Delete") this.disks.delete(vm.osDisk.key);
        else disk.managedBy = undefined;
      }
    });
    return { status: 202, headers: this.asyncHeaders(op, true) };
  }

  /** Removes a VM the way a hand-made portal deletion without delete options does: NIC and
   * disk stay behind, detached. */
  abandonVm(name: string): void {
    const vm = this.vms.get(name.toLowerCase());
    if (vm === undefined) throw new Error(`no VM ${name}`);
    this.vms.delete(name.toLowerCase());
    for (const ref of vm.nics) {
      const nic = this.nicById(ref.id);
      if (nic !== undefined) nic.vmId = undefined;
    }
    const disk = this.disks.get(vm.osDisk.key);
    if (disk !== undefined) disk.managedBy = undefined;
  }

  private vmJson(vm: VmRecord, instanceView: boolean): Json {
    const properties: Json = {
      ...structuredClone(vm.properties),
      vmId: vm.vmId,
      provisioningState: vm.provisioningState,
      timeCreated: vm.timeCreated,
    };
    if (instanceView) {
      const statuses: Json[] = [];
      if (vm.provisioningState === "Failed" && vm.failure !== undefined) {
        statuses.push({
          code: `ProvisioningState/failed/${vm.failure.code}`,
          level: "Error",
          displayStatus: "Provisioning failed",
          message: vm.failure.message,
          time: vm.timeCreated,
        });
      } else {
        statuses.push({
          code: `ProvisioningState/${vm.provisioningState.toLowerCase()}`,
          level: "Info",
          displayStatus: `Provisioning ${vm.provisioningState.toLowerCase()}`,
        });
      }
      if (vm.launched) statuses.push({ code: "PowerState/running", level: "Info", displayStatus: "VM running" });
      properties.instanceView = { computerName: (vm.properties.osProfile as Json).computerName, statuses };
    }
    return {
      name: vm.name,
      id: vm.id,
      type: "Microsoft.Compute/virtualMachines",
      location: vm.location,
      tags: { ...vm.tags },
      properties,
    };
  }

  private checkImage(ref: Json): void {
    const id = stringAt(ref, "id");
    const community = stringAt(ref, "communityGalleryImageId");
    const known = [this.managedImageId(), this.galleryImageId(), this.galleryImageVersionId()].map((i) =>
      i.toLowerCase(),
    );
    if (id !== undefined) {
      if (!known.includes(id.toLowerCase())) {
        throw new ArmHttpError(
          404,
          /\/galleries\//i.test(id) ? "GalleryImageNotFound" : "ImageNotFound",
          `The platform image '${id}' is not available. Verify that all fields in the storage profile are correct.`,
        );
      }
      return;
    }
    if (community !== undefined) {
      if (community.toLowerCase() !== this.communityImageId().toLowerCase())
        throw new ArmHttpError(
          404,
          "GalleryImageNotFound",
          `The gallery image ${community} is not available in ${this.o.location} region.`,
        );
      return;
    }
    throw new ArmHttpError(400, "InvalidParameter", "Required parameter 'imageReference' is missing (null).");
  }

  private checkSecurity(props: Json, osDisk: Json, size: FakeArmSize): void {
    const security = objectAt(props, "securityProfile");
    const type = stringAt(security, "securityType");
    const encryption = stringAt(objectAt(objectAt(osDisk, "managedDisk"), "securityProfile"), "securityEncryptionType");
    if (type === "ConfidentialVM") {
      const uefi = objectAt(security, "uefiSettings");
      if (uefi.vTpmEnabled !== true)
        throw new ArmHttpError(
          400,
          "InvalidParameter",
          "The property 'securityProfile.uefiSettings.vTpmEnabled' must be true for Confidential VMs.",
        );
      if (encryption === undefined)
        throw new ArmHttpError(
          400,
          "InvalidParameter",
          "'securityEncryptionType' of the OS disk is required for Confidential VMs.",
        );
      if (!size.confidential)
        throw new ArmHttpError(
          400,
          "BadRequest",
          `The VM size '${size.name}' is not supported for creation of VMs with Security Type ConfidentialVM.`,
        );
    } else if (encryption !== undefined) {
      throw new ArmHttpError(400, "InvalidParameter", "'securityEncryptionType' can only be set for Confidential VMs.");
    }
  }

  // --- network interfaces -------------------------------------------------------------------

  nicById(id: string): NicRecord | undefined {
    const nic = [...this.nics.values()].find((n) => n.id.toLowerCase() === id.toLowerCase());
    return nic;
  }

  putNic(name: string, body: Json, apiVersion: string): ArmReply {
    if (!NAME.test(name)) throw new ArmHttpError(400, "InvalidResourceName", `Resource name ${name} is invalid.`);
    const location = requireLocation(body);
    const props = objectAt(body, "properties");
    const ipConfigs = arrayAt(props, "ipConfigurations");
    const first = ipConfigs[0] as Json | undefined;
    if (first === undefined)
      throw new ArmHttpError(
        400,
        "NetworkInterfaceMustHaveAtLeastOneIpConfiguration",
        `Network interface ${name} must have at least one IP configuration.`,
      );
    const id = this.idOf("Microsoft.Network", "networkInterfaces", name);
    const ipProps = objectAt(first, "properties");
    const subnetId = stringAt(objectAt(ipProps, "subnet"), "id") ?? "";
    if (subnetId.toLowerCase() !== this.subnetId().toLowerCase()) {
      throw new ArmHttpError(
        400,
        "InvalidResourceReference",
        `Resource ${subnetId} referenced by resource ${id} was not found. Please make sure that the referenced resource exists, and that both resources are in the same region.`,
      );
    }
    const nsgId = stringAt(objectAt(props, "networkSecurityGroup"), "id");
    if (nsgId !== undefined && nsgId.toLowerCase() !== this.nsgId().toLowerCase()) {
      throw new ArmHttpError(
        400,
        "InvalidResourceReference",
        `Resource ${nsgId} referenced by resource ${id} was not found.`,
      );
    }
    const pipRef = objectAt(ipProps, "publicIPAddress");
    const pipId = stringAt(pipRef, "id");
    const ipConfigId = `${id}/ipConfigurations/${stringAt(first, "name") ?? "ipconfig1"}`;
    let publicIp: NicRecord["publicIp"];
    if (pipId !== undefined) {
      const pip = [...this.publicIps.values()].find((p) => p.id.toLowerCase() === pipId.toLowerCase());
      if (pip === undefined)
        throw new ArmHttpError(
          400,
          "InvalidResourceReference",
          `Resource ${pipId} referenced by resource ${id} was not found.`,
        );
      if (pip.ipConfigurationId !== undefined && pip.ipConfigurationId.toLowerCase() !== ipConfigId.toLowerCase()) {
        throw new ArmHttpError(
          400,
          "PublicIPAddressInUse",
          `Resource ${pip.id} is referenced by ${pip.ipConfigurationId}.`,
        );
      }
      pip.ipConfigurationId = ipConfigId;
      publicIp = { id: pip.id, deleteOption: stringAt(objectAt(pipRef, "properties"), "deleteOption") ?? "Detach" };
    }
    const key = name.toLowerCase();
    const existing = this.nics.get(key);
    let nic: NicRecord;
    if (existing !== undefined) {
      if (existing.provisioningState === "Deleting")
        throw new ArmHttpError(
          409,
          "AnotherOperationInProgress",
          `Another operation on this or dependent resource is in progress (NIC ${name}).`,
        );
      existing.tags = tagsOf(body);
      existing.subnetId = subnetId;
      existing.nsgId = nsgId;
      existing.publicIp = publicIp;
      nic = existing;
    } else {
      nic = {
        id,
        name,
        location,
        tags: tagsOf(body),
        subnetId,
        nsgId,
        publicIp,
        privateIp: `10.0.0.${this.nextIp++}`,
        vmId: undefined,
        resourceGuid: randomUUID(),
        provisioningState: "Succeeded",
      };
      this.nics.set(key, nic);
    }
    const op = this.startOperation("Microsoft.Network", apiVersion, async () => {});
    return {
      status: existing === undefined ? 201 : 200,
      body: this.nicJson(nic),
      headers: this.asyncHeaders(op, false),
    };
  }

  getNic(name: string): ArmReply {
    const nic = this.nics.get(name.toLowerCase());
    if (nic === undefined) throw notFound("Microsoft.Network/networkInterfaces", name, this.o.resourceGroup);
    return { status: 200, body: this.nicJson(nic) };
  }

  listNics(): Json[] {
    return [...this.nics.values()].map((n) => this.nicJson(n));
  }

  deleteNic(name: string, apiVersion: string): ArmReply {
    const nic = this.nics.get(name.toLowerCase());
    if (nic === undefined) return { status: 204 };
    if (nic.vmId !== undefined) {
      throw new ArmHttpError(
        400,
        "NicInUse",
        `Network Interface ${nic.id} is used by existing resource ${nic.vmId}. In order to delete the network interface, it must be dissociated from the resource.`,
      );
    }
    nic.provisioningState = "Deleting";
    const op = this.startOperation("Microsoft.Network", apiVersion, async () => this.removeNic(nic));
    return { status: 202, headers: this.asyncHeaders(op, true) };
  }

  private removeNic(nic: NicRecord): void {
    this.nics.delete(nic.name.toLowerCase());
    if (nic.publicIp === undefined) return;
    const pip = [...this.publicIps.values()].find((p) => p.id.toLowerCase() === nic.publicIp!.id.toLowerCase());
    if (pip === undefined) return;
    if (nic.publicIp.deleteOption === "Delete") this.publicIps.delete(pip.name.toLowerCase());
    else pip.ipConfigurationId = undefined;
  }

  private nicJson(nic: NicRecord): Json {
    const ipConfig: Json = {
      name: "ipconfig1",
      id: `${nic.id}/ipConfigurations/ipconfig1`,
      etag: `W/"${nic.resourceGuid}"`,
      type: "Microsoft.Network/networkInterfaces/ipConfigurations",
      properties: {
        provisioningState: "Succeeded",
        privateIPAddress: nic.privateIp,
        privateIPAllocationMethod: "Dynamic",
        subnet: { id: nic.subnetId },
        primary: true,
        privateIPAddressVersion: "IPv4",
        ...(nic.publicIp === undefined
          ? {}
          : { publicIPAddress: { id: nic.publicIp.id, properties: { deleteOption: nic.publicIp.deleteOption } } }),
      },
    };
    const properties: Json = {
      provisioningState: nic.provisioningState,
      resourceGuid: nic.resourceGuid,
      ipConfigurations: [ipConfig],
      dnsSettings: { dnsServers: [], appliedDnsServers: [] },
      enableAcceleratedNetworking: false,
      enableIPForwarding: false,
      nicType: "Standard",
      ...(nic.nsgId === undefined ? {} : { networkSecurityGroup: { id: nic.nsgId } }),
      ...(nic.vmId === undefined ? {} : { virtualMachine: { id: nic.vmId }, primary: true }),
    };
    return {
      name: nic.name,
      id: nic.id,
      etag: `W/"${nic.resourceGuid}"`,
      type: "Microsoft.Network/networkInterfaces",
      location: nic.location,
      tags: { ...nic.tags },
      properties,
    };
  }

  // --- public IP addresses ------------------------------------------------------------------

  putPublicIp(name: string, body: Json, apiVersion: string): ArmReply {
    if (!NAME.test(name)) throw new ArmHttpError(400, "InvalidResourceName", `Resource name ${name} is invalid.`);
    const location = requireLocation(body);
    const key = name.toLowerCase();
    let pip = this.publicIps.get(key);
    if (pip === undefined) {
      pip = {
        id: this.idOf("Microsoft.Network", "publicIPAddresses", name),
        name,
        location,
        tags: tagsOf(body),
        ipAddress: `20.1.2.${this.nextPublicIp++}`,
        ipConfigurationId: undefined,
        provisioningState: "Succeeded",
      };
      this.publicIps.set(key, pip);
    } else {
      pip.tags = tagsOf(body);
    }
    const op = this.startOperation("Microsoft.Network", apiVersion, async () => {});
    return { status: 201, body: this.publicIpJson(pip), headers: this.asyncHeaders(op, false) };
  }

  getPublicIp(name: string): ArmReply {
    const pip = this.publicIps.get(name.toLowerCase());
    if (pip === undefined) throw notFound("Microsoft.Network/publicIPAddresses", name, this.o.resourceGroup);
    return { status: 200, body: this.publicIpJson(pip) };
  }

  listPublicIps(): Json[] {
    return [...this.publicIps.values()].map((p) => this.publicIpJson(p));
  }

  deletePublicIp(name: string, apiVersion: string): ArmReply {
    const pip = this.publicIps.get(name.toLowerCase());
    if (pip === undefined) return { status: 204 };
    if (pip.ipConfigurationId !== undefined) {
      throw new ArmHttpError(
        400,
        "PublicIPAddressCannotBeDeleted",
        `Public IP address ${pip.id} can not be deleted since it is still allocated to resource ${pip.ipConfigurationId}.`,
      );
    }
    pip.provisioningState = "Deleting";
    const op = this.startOperation("Microsoft.Network", apiVersion, async () => {
      this.publicIps.delete(pip.name.toLowerCase());
    });
    return { status: 202, headers: this.asyncHeaders(op, true) };
  }

  private publicIpJson(pip: PublicIpRecord): Json {
    return {
      name: pip.name,
      id: pip.id,
      type: "Microsoft.Network/publicIPAddresses",
      location: pip.location,
      tags: { ...pip.tags },
      sku: { name: "Standard", tier: "Regional" },
      properties: {
        provisioningState: pip.provisioningState,
        ipAddress: pip.ipAddress,
        publicIPAddressVersion: "IPv4",
        publicIPAllocationMethod: "Static",
        idleTimeoutInMinutes: 4,
        ...(pip.ipConfigurationId === undefined ? {} : { ipConfiguration: { id: pip.ipConfigurationId } }),
      },
    };
  }

  // --- disks --------------------------------------------------------------------------------

  getDisk(name: string): ArmReply {
    const disk = this.disks.get(name.toLowerCase());
    if (disk === undefined) throw notFound("Microsoft.Compute/disks", name, this.o.resourceGroup);
    return { status: 200, body: this.diskJson(disk) };
  }

  listDisks(): Json[] {
    return [...this.disks.values()].map((d) => this.diskJson(d));
  }

  patchDisk(name: string, body: Json): ArmReply {
    const disk = this.disks.get(name.toLowerCase());
    if (disk === undefined) throw notFound("Microsoft.Compute/disks", name, this.o.resourceGroup);
    if (body.tags !== undefined) disk.tags = tagsOf(body);
    return { status: 200, body: this.diskJson(disk) };
  }

  deleteDisk(name: string, apiVersion: string): ArmReply {
    const disk = this.disks.get(name.toLowerCase());
    if (disk === undefined) return { status: 204 };
    if (disk.managedBy !== undefined)
      throw new ArmHttpError(409, "OperationNotAllowed", `Disk ${disk.name} is attached to VM ${disk.managedBy}.`);
    const op = this.startOperation("Microsoft.Compute", apiVersion, async () => {
      this.disks.delete(disk.name.toLowerCase());
    });
    return { status: 202, headers: this.asyncHeaders(op, true) };
  }

  private diskJson(disk: DiskRecord): Json {
    return {
      name: disk.name,
      id: disk.id,
      type: "Microsoft.Compute/disks",
      location: disk.location,
      tags: { ...disk.tags },
      ...(disk.managedBy === undefined ? {} : { managedBy: disk.managedBy }),
      sku: { name: "StandardSSD_LRS", tier: "Standard" },
      properties: {
        osType: "Linux",
        hyperVGeneration: "V2",
        creationData: { createOption: "FromImage", imageReference: { id: this.galleryImageVersionId() } },
        diskSizeGB: 30,
        diskState: disk.managedBy === undefined ? "Unattached" : "Attached",
        provisioningState: "Succeeded",
        timeCreated: disk.timeCreated,
        ...(disk.securityType === undefined
          ? {}
          : { securityProfile: { securityType: `ConfidentialVM_${disk.securityType}EncryptedWithPlatformKey` } }),
      },
    };
  }

  // --- read-only resources ------------------------------------------------------------------

  getSubnet(vnet: string, subnet: string): ArmReply {
    if (vnet.toLowerCase() !== this.vnet.toLowerCase())
      throw notFound("Microsoft.Network/virtualNetworks", vnet, this.o.resourceGroup);
    if (subnet.toLowerCase() !== this.subnet.toLowerCase())
      throw notFound("Microsoft.Network/virtualNetworks/subnets", `${vnet}/${subnet}`, this.o.resourceGroup);
    return {
      status: 200,
      body: {
        name: this.subnet,
        id: this.subnetId(),
        etag: 'W/"7d1c8f0e-0000-0000-0000-000000000000"',
        type: "Microsoft.Network/virtualNetworks/subnets",
        properties: {
          provisioningState: "Succeeded",
          addressPrefix: "10.0.0.0/24",
          privateEndpointNetworkPolicies: "Disabled",
          privateLinkServiceNetworkPolicies: "Enabled",
        },
      },
    };
  }

  getNsg(name: string): ArmReply {
    if (name.toLowerCase() !== this.nsg.toLowerCase())
      throw notFound("Microsoft.Network/networkSecurityGroups", name, this.o.resourceGroup);
    return {
      status: 200,
      body: {
        name: this.nsg,
        id: this.nsgId(),
        type: "Microsoft.Network/networkSecurityGroups",
        location: this.o.location,
        properties: { provisioningState: "Succeeded", securityRules: [] },
      },
    };
  }

  getManagedImage(name: string): ArmReply {
    if (name.toLowerCase() !== this.managedImage.toLowerCase())
      throw notFound("Microsoft.Compute/images", name, this.o.resourceGroup);
    return {
      status: 200,
      body: {
        name: this.managedImage,
        id: this.managedImageId(),
        type: "Microsoft.Compute/images",
        location: this.o.location,
        properties: {
          provisioningState: "Succeeded",
          hyperVGeneration: "V2",
          storageProfile: { osDisk: { osType: "Linux", osState: "Generalized", diskSizeGB: 30 }, dataDisks: [] },
        },
      },
    };
  }

  getGalleryImage(gallery: string, image: string, version: string | undefined): ArmReply {
    const type = version === undefined ? "galleries/images" : "galleries/images/versions";
    const full = `${gallery}/${image}${version === undefined ? "" : `/${version}`}`;
    if (
      gallery.toLowerCase() !== this.gallery.toLowerCase() ||
      image.toLowerCase() !== this.galleryImage.toLowerCase()
    ) {
      throw notFound(`Microsoft.Compute/${type}`, full, this.o.resourceGroup);
    }
    if (version !== undefined && version !== this.galleryVersion)
      throw notFound(`Microsoft.Compute/${type}`, full, this.o.resourceGroup);
    return {
      status: 200,
      body: {
        name: version ?? image,
        id: version === undefined ? this.galleryImageId() : this.galleryImageVersionId(),
        type: `Microsoft.Compute/${type}`,
        location: this.o.location,
        properties:
          version === undefined
            ? {
                provisioningState: "Succeeded",
                osType: "Linux",
                osState: "Generalized",
                hyperVGeneration: "V2",
                identifier: { publisher: "peerpods", offer: "podvm", sku: "cvm" },
                features: [{ name: "SecurityType", value: "ConfidentialVmSupported" }],
              }
            : {
                provisioningState: "Succeeded",
                publishingProfile: { targetRegions: [{ name: this.o.location, regionalReplicaCount: 1 }] },
                storageProfile: { osDiskImage: { sizeInGB: 30, hostCaching: "ReadWrite" } },
              },
      },
    };
  }

  getCommunityImageVersion(location: string, gallery: string, image: string, version: string): ArmReply {
    const uniqueId = `/CommunityGalleries/${gallery}/Images/${image}/Versions/${version}`;
    if (
      location.toLowerCase() !== this.o.location.toLowerCase() ||
      uniqueId.toLowerCase() !== this.communityImageId().toLowerCase()
    ) {
      throw new ArmHttpError(
        404,
        "GalleryImageNotFound",
        `The gallery image ${uniqueId} is not available in ${location} region. Please contact image owner to replicate to this region, or change your requested region.`,
      );
    }
    return {
      status: 200,
      body: {
        name: version,
        location: this.o.location,
        type: "Microsoft.Compute/locations/communityGalleries/images/versions",
        identifier: { uniqueId: this.communityImageId() },
        properties: { storageProfile: { osDiskImage: { diskSizeGB: 30 } } },
      },
    };
  }

  listSizes(location: string): Json[] {
    if (location.toLowerCase() !== this.o.location.toLowerCase())
      throw new ArmHttpError(
        404,
        "NoRegisteredProviderFound",
        `No registered resource provider found for location '${location}'.`,
      );
    return this.o.sizes.map((s) => ({
      name: s.name,
      numberOfCores: s.vcpus,
      osDiskSizeInMB: 1_047_552,
      resourceDiskSizeInMB: 0,
      memoryInMB: s.memoryMiB,
      maxDataDiskCount: 4,
    }));
  }

  // --- lifetime -----------------------------------------------------------------------------

  /** Settles once no operation is running (tests wait for the cloud to be quiet). */
  async idle(timeoutMs = 5000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while ([...this.operations.values()].some((o) => o.status === "InProgress")) {
      if (Date.now() > until) throw new Error("operations still running");
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  close(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}

function notFound(type: string, name: string, resourceGroup: string): ArmHttpError {
  return new ArmHttpError(
    404,
    "ResourceNotFound",
    `The Resource '${type}/${name}' under resource group '${resourceGroup}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`,
  );
}

function requireLocation(body: Json): string {
  const location = stringAt(body, "location");
  if (location === undefined)
    throw new ArmHttpError(400, "LocationRequired", "The location property is required for this definition.");
  return location;
}

function tagsOf(body: Json): Record<string, string> {
  const tags = body.tags;
  if (tags === undefined || tags === null) return {};
  if (typeof tags !== "object")
    throw new ArmHttpError(400, "InvalidRequestContent", "The request content was invalid: tags must be an object.");
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(tags)) {
    if (typeof v !== "string")
      throw new ArmHttpError(400, "InvalidTag", `The tag '${k}' has a value that is not a string.`);
    if (k.length > 512 || /[<>%&\\?/]/.test(k))
      throw new ArmHttpError(
        400,
        "InvalidTagNameCharacters",
        `The tag names '${k}' have reserved characters '<,>,%,&,\\,?,/' or control characters.`,
      );
    if (v.length > 256)
      throw new ArmHttpError(400, "InvalidTag", `The tag '${k}' has a value longer than 256 characters.`);
    out[k] = v;
  }
  if (Object.keys(out).length > 50)
    throw new ArmHttpError(400, "InvalidTemplate", "The number of tags exceeds the limit of 50.");
  return out;
}

export function objectAt(o: Json, key: string): Json {
  const v = o[key];
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Json) : {};
}

export function stringAt(o: Json, key: string): string | undefined {
  const v = o[key];
  return typeof v === "string" ? v : undefined;
}

function arrayAt(o: Json, key: string): unknown[] {
  const v = o[key];
  return Array.isArray(v) ? v : [];
}
