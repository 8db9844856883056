// The state behind the fake Compute Engine endpoint: one project and zone with images,
// networks, subnetworks, machine types, instances, disks and zonal operations, behaving as
// Compute Engine does for what the gcp provider uses. Inserts and deletes return a PENDING
// operation and take effect in the background; a request id seen before returns the first
// request's operation (Compute Engine's de-duplication); errors carry Google's codes, reasons
// and messages. Instances are made real by an optional launcher (a local VM per instance).
import { randomBytes } from "node:crypto";

export type Json = Record<string, any>;

/** Makes an instance real: boots something serving its user-data, returns its address. */
export interface GceLauncher {
  launch(instance: {
    readonly name: string;
    readonly userData: string;
    readonly labels: Readonly<Record<string, string>>;
  }): Promise<{ address: string }>;
  destroy(name: string): Promise<void>;
}

export interface FakeMachineType {
  readonly name: string;
  readonly vcpus: number;
  readonly memoryMb: number;
  readonly gpus?: number;
}

export class GceHttpError extends Error {
  readonly status: number;
  readonly reason: string;
  readonly details: Json[] | undefined;
  constructor(status: number, reason: string, message: string, details?: Json[]) {
    super(message);
    this.status = status;
    this.reason = reason;
    this.details = details;
  }
}

/** A failure an operation ends with instead of taking effect. */
export interface OperationFailure {
  readonly code: string;
  readonly message: string;
  readonly httpStatus: number;
}

interface Operation extends Json {
  name: string;
  status: "PENDING" | "RUNNING" | "DONE";
}

export interface GceModelOptions {
  readonly project: string;
  readonly zone: string;
  readonly baseUrl: () => string;
  readonly machineTypes: readonly FakeMachineType[];
  readonly launcher: GceLauncher | undefined;
  /** How long an operation takes before it is DONE. */
  readonly operationMs: number;
  /** Longest a wait call holds before answering a running operation. */
  readonly waitMs: number;
}

export class FakeGceModel {
  readonly images = new Map<string, Json>();
  readonly networks = new Map<string, Json>();
  readonly subnetworks = new Map<string, Json>();
  readonly instances = new Map<string, Json>();
  readonly disks = new Map<string, Json>();
  readonly operations = new Map<string, Operation>();
  /** request id → operation name */
  readonly requestIds = new Map<string, string>();
  /** Permissions the caller lacks, e.g. compute.instances.create. */
  readonly denied = new Set<string>();
  /** Machine types whose next inserts end with this failure (consumed one by one). */
  readonly pendingFailures: Array<{ machineType: string; failure: OperationFailure }> = [];
  readonly backgroundErrors: string[] = [];
  private readonly o: GceModelOptions;
  private readonly busy = new Set<Promise<unknown>>();
  private nextId = BigInt("4112233445566778899");
  private closed = false;

  constructor(o: GceModelOptions) {
    this.o = o;
    const region = o.zone.replace(/-[a-z]$/, "");
    this.images.set("podvm-image", this.image("podvm-image", "podvm", 10));
    this.networks.set("default", {
      kind: "compute#network",
      id: this.id(),
      name: "default",
      selfLink: this.link(`global/networks/default`),
      autoCreateSubnetworks: true,
    });
    this.networks.set("peerpods", {
      kind: "compute#network",
      id: this.id(),
      name: "peerpods",
      selfLink: this.link(`global/networks/peerpods`),
      autoCreateSubnetworks: false,
    });
    this.subnetworks.set(`${region}/workers`, {
      kind: "compute#subnetwork",
      id: this.id(),
      name: "workers",
      region: this.link(`regions/${region}`),
      network: this.link("global/networks/peerpods"),
      ipCidrRange: "10.128.0.0/20",
      selfLink: this.link(`regions/${region}/subnetworks/workers`),
    });
  }

  get project(): string {
    return this.o.project;
  }
  get zone(): string {
    return this.o.zone;
  }

  link(path: string): string {
    return `${this.o.baseUrl()}/compute/v1/projects/${this.o.project}/${path}`;
  }

  // --- reads ---------------------------------------------------------------------------------

  getZone(zone: string): Json {
    if (zone !== this.o.zone) throw notFound(`projects/${this.o.project}/zones/${zone}`);
    return {
      kind: "compute#zone",
      id: "2000",
      name: zone,
      status: "UP",
      region: this.link(`regions/${zone.replace(/-[a-z]$/, "")}`),
      selfLink: this.link(`zones/${zone}`),
    };
  }

  getNetwork(name: string): Json {
    const n = this.networks.get(name);
    if (n === undefined) throw notFound(`projects/${this.o.project}/global/networks/${name}`);
    return n;
  }

  getSubnetwork(region: string, name: string): Json {
    const s = this.subnetworks.get(`${region}/${name}`);
    if (s === undefined) throw notFound(`projects/${this.o.project}/regions/${region}/subnetworks/${name}`);
    return s;
  }

  getImage(name: string): Json {
    const i = this.images.get(name);
    if (i === undefined) throw notFound(`projects/${this.o.project}/global/images/${name}`);
    return i;
  }

  getImageFromFamily(family: string): Json {
    const found = [...this.images.values()].filter((i) => i.family === family);
    if (found.length === 0) throw notFound(`projects/${this.o.project}/global/images/family/${family}`);
    return found.at(-1)!;
  }

  machineTypeList(): Json[] {
    return this.o.machineTypes.map((m, k) => ({
      kind: "compute#machineType",
      id: String(1000 + k),
      name: m.name,
      description: `${m.vcpus} vCPUs, ${m.memoryMb / 1024} GB RAM`,
      guestCpus: m.vcpus,
      memoryMb: m.memoryMb,
      zone: this.o.zone,
      isSharedCpu: false,
      ...(m.gpus ? { accelerators: [{ guestAcceleratorType: "nvidia-l4", guestAcceleratorCount: m.gpus }] } : {}),
      selfLink: this.link(`zones/${this.o.zone}/machineTypes/${m.name}`),
    }));
  }

  getInstance(name: string): Json {
    const i = this.instances.get(name);
    if (i === undefined) throw notFound(`projects/${this.o.project}/zones/${this.o.zone}/instances/${name}`);
    return i;
  }

  getDisk(name: string): Json {
    const d = this.disks.get(name);
    if (d === undefined) throw notFound(`projects/${this.o.project}/zones/${this.o.zone}/disks/${name}`);
    return d;
  }

  getOperation(name: string): Operation {
    const op = this.operations.get(name);
    if (op === undefined) throw notFound(`projects/${this.o.project}/zones/${this.o.zone}/operations/${name}`);
    return op;
  }

  /** Answers when the operation is DONE, or after waitMs with it as it is (as Google does). */
  async waitOperation(name: string): Promise<Operation> {
    const op = this.getOperation(name);
    const until = Date.now() + this.o.waitMs;
    while (op.status !== "DONE" && Date.now() < until && !this.closed) await new Promise((r) => setTimeout(r, 10));
    return op;
  }

  // --- writes --------------------------------------------------------------------------------

  insertInstance(body: Json, requestId: string | undefined): Operation {
    this.require(
      "compute.instances.create",
      `projects/${this.o.project}/zones/${this.o.zone}/instances/${String(body.name ?? "")}`,
    );
    const seen = requestId === undefined ? undefined : this.requestIds.get(requestId);
    if (seen !== undefined) return this.operations.get(seen)!;
    const name = String(body.name ?? "");
    if (!/^[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$/.test(name)) {
      throw new GceHttpError(
        400,
        "invalid",
        `Invalid value for field 'resource.name': '${name}'. Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'`,
      );
    }
    if (this.instances.has(name))
      throw new GceHttpError(
        409,
        "alreadyExists",
        `The resource 'projects/${this.o.project}/zones/${this.o.zone}/instances/${name}' already exists`,
      );
    const machineType =
      String(body.machineType ?? "")
        .split("/")
        .at(-1) ?? "";
    if (!this.o.machineTypes.some((m) => m.name === machineType)) {
      throw new GceHttpError(
        400,
        "invalid",
        `Invalid value for field 'resource.machineType': '${String(body.machineType)}'. Machine type with name '${machineType}' does not exist in zone '${this.o.zone}'.`,
      );
    }
    const disk = (body.disks as Json[] | undefined)?.find((d) => d.boot === true);
    const source = String(disk?.initializeParams?.sourceImage ?? "");
    const imageName = source.split("/").at(-1) ?? "";
    const familyImage = /\/images\/family\//.test(source)
      ? [...this.images.values()].find((i) => i.family === imageName)
      : this.images.get(imageName);
    if (familyImage === undefined) throw notFound(source.replace(/^.*?(projects\/)/, "$1"));
    const nic = (body.networkInterfaces as Json[] | undefined)?.[0];
    const networkName =
      String(nic?.network ?? "")
        .split("/")
        .at(-1) ?? "";
    if (!this.networks.has(networkName)) throw notFound(String(nic?.network ?? "").replace(/^.*?(projects\/)/, "$1"));
    if (nic?.subnetwork !== undefined) {
      const parts = String(nic.subnetwork).split("/");
      if (!this.subnetworks.has(`${parts.at(-3)}/${parts.at(-1)}`))
        throw notFound(String(nic.subnetwork).replace(/^.*?(projects\/)/, "$1"));
    }
    const op = this.operation("insert", `zones/${this.o.zone}/instances/${name}`);
    if (requestId !== undefined) this.requestIds.set(requestId, op.name);
    const failureAt = this.pendingFailures.findIndex((f) => f.machineType === machineType || f.machineType === "*");
    const failure = failureAt < 0 ? undefined : this.pendingFailures.splice(failureAt, 1)[0]!.failure;
    const id = this.id();
    const diskName = String(disk?.initializeParams?.diskName ?? name);
    const instance: Json = {
      kind: "compute#instance",
      id,
      name,
      zone: this.link(`zones/${this.o.zone}`),
      machineType: this.link(`zones/${this.o.zone}/machineTypes/${machineType}`),
      status: "PROVISIONING",
      labels: body.labels ?? {},
      labelFingerprint: randomBytes(8).toString("base64"),
      metadata: {
        kind: "compute#metadata",
        fingerprint: randomBytes(8).toString("base64"),
        items: body.metadata?.items ?? [],
      },
      networkInterfaces: [
        {
          kind: "compute#networkInterface",
          name: "nic0",
          network: this.link(`global/networks/${networkName}`),
          ...(nic?.subnetwork === undefined ? {} : { subnetwork: nic.subnetwork }),
          networkIP: `10.128.0.${(this.instances.size % 250) + 2}`,
          ...(Array.isArray(nic?.accessConfigs)
            ? {
                accessConfigs: nic.accessConfigs.map((a: Json) => ({
                  kind: "compute#accessConfig",
                  type: "ONE_TO_ONE_NAT",
                  name: a.name,
                  networkTier: "PREMIUM",
                })),
              }
            : {}),
        },
      ],
      disks: [
        {
          kind: "compute#attachedDisk",
          type: "PERSISTENT",
          mode: "READ_WRITE",
          source: this.link(`zones/${this.o.zone}/disks/${diskName}`),
          deviceName: "persistent-disk-0",
          index: 0,
          boot: true,
          autoDelete: disk?.autoDelete === true,
        },
      ],
      scheduling: { onHostMaintenance: "MIGRATE", automaticRestart: true, preemptible: false, ...body.scheduling },
      ...(body.shieldedInstanceConfig === undefined ? {} : { shieldedInstanceConfig: body.shieldedInstanceConfig }),
      ...(body.confidentialInstanceConfig === undefined
        ? {}
        : { confidentialInstanceConfig: body.confidentialInstanceConfig }),
      creationTimestamp: new Date().toISOString(),
      selfLink: this.link(`zones/${this.o.zone}/instances/${name}`),
      /** Kept for tests: the insert as received. */
      _requestBody: body,
    };
    this.track(
      (async () => {
        await this.delay();
        op.status = "RUNNING";
        if (failure !== undefined) {
          await this.delay();
          return this.finish(op, failure);
        }
        this.disks.set(diskName, {
          kind: "compute#disk",
          id: this.id(),
          name: diskName,
          sizeGb: String(disk?.initializeParams?.diskSizeGb ?? familyImage.diskSizeGb),
          type: this.link(
            `zones/${this.o.zone}/diskTypes/${String(disk?.initializeParams?.diskType ?? "pd-standard")
              .split("/")
              .at(-1)}`,
          ),
          sourceImage: familyImage.selfLink,
          labels: disk?.initializeParams?.labels ?? {},
          description: disk?.initializeParams?.description ?? "",
          users: [instance.selfLink],
          status: "READY",
          zone: this.link(`zones/${this.o.zone}`),
          selfLink: this.link(`zones/${this.o.zone}/disks/${diskName}`),
        });
        this.instances.set(name, instance);
        instance.status = "STAGING";
        if (this.o.launcher !== undefined) {
          const userData =
            ((instance.metadata.items as Json[]).find((it) => it.key === "user-data")?.value as string | undefined) ??
            "";
          try {
            const { address } = await this.o.launcher.launch({ name, userData, labels: instance.labels });
            instance.networkInterfaces[0].networkIP = address;
          } catch (err) {
            this.backgroundErrors.push(`launch ${name}: ${String(err)}`);
          }
        }
        if (Array.isArray(instance.networkInterfaces[0].accessConfigs))
          instance.networkInterfaces[0].accessConfigs[0].natIP = `34.1.2.${(this.instances.size % 250) + 2}`;
        if (this.instances.get(name) === instance && instance.status === "STAGING") instance.status = "RUNNING";
        this.finish(op, undefined, id);
      })(),
    );
    return op;
  }

  deleteInstance(name: string, requestId: string | undefined): Operation {
    this.require("compute.instances.delete", `projects/${this.o.project}/zones/${this.o.zone}/instances/${name}`);
    const seen = requestId === undefined ? undefined : this.requestIds.get(requestId);
    if (seen !== undefined) return this.operations.get(seen)!;
    const instance = this.getInstance(name);
    const op = this.operation("delete", `zones/${this.o.zone}/instances/${name}`);
    if (requestId !== undefined) this.requestIds.set(requestId, op.name);
    instance.status = "STOPPING";
    this.track(
      (async () => {
        await this.delay();
        op.status = "RUNNING";
        if (this.o.launcher !== undefined)
          await this.o.launcher
            .destroy(name)
            .catch((err: unknown) => this.backgroundErrors.push(`destroy ${name}: ${String(err)}`));
        instance.status = "TERMINATED";
        await this.delay();
        if (this.instances.get(name) === instance) this.instances.delete(name);
        for (const d of instance.disks as Json[]) {
          const diskName = String(d.source).split("/").at(-1)!;
          const disk = this.disks.get(diskName);
          if (disk === undefined) continue;
          disk.users = (disk.users as string[]).filter((u) => u !== instance.selfLink);
          if (d.autoDelete === true) this.disks.delete(diskName);
        }
        this.finish(op, undefined, instance.id);
      })(),
    );
    return op;
  }

  deleteDisk(name: string, requestId: string | undefined): Operation {
    this.require("compute.disks.delete", `projects/${this.o.project}/zones/${this.o.zone}/disks/${name}`);
    const seen = requestId === undefined ? undefined : this.requestIds.get(requestId);
    if (seen !== undefined) return this.operations.get(seen)!;
    const disk = this.getDisk(name);
    if ((disk.users as string[]).length > 0) {
      throw new GceHttpError(
        400,
        "resourceInUseByAnotherResource",
        `The disk resource 'projects/${this.o.project}/zones/${this.o.zone}/disks/${name}' is already being used by '${(disk.users as string[])[0]}'`,
      );
    }
    const op = this.operation("delete", `zones/${this.o.zone}/disks/${name}`);
    if (requestId !== undefined) this.requestIds.set(requestId, op.name);
    this.track(
      (async () => {
        await this.delay();
        this.disks.delete(name);
        this.finish(op, undefined, disk.id);
      })(),
    );
    return op;
  }

  /** A boot disk with no instance, as a crash between disk and instance leaves one. */
  addOrphanDisk(name: string, labels: Record<string, string>, description: string): void {
    this.disks.set(name, {
      kind: "compute#disk",
      id: this.id(),
      name,
      sizeGb: "10",
      labels,
      description,
      users: [],
      status: "READY",
      zone: this.link(`zones/${this.o.zone}`),
      selfLink: this.link(`zones/${this.o.zone}/disks/${name}`),
    });
  }

  /** Checks the caller's permission the way IAM answers a missing one. */
  require(permission: string, resource: string): void {
    if (!this.denied.has(permission)) return;
    throw new GceHttpError(403, "forbidden", `Required '${permission}' permission for '${resource}'`, [
      {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        reason: "IAM_PERMISSION_DENIED",
        domain: "iam.googleapis.com",
        metadata: { permission, resource },
      },
    ]);
  }

  /** Resolves once no operation is in progress. */
  async idle(timeoutMs = 30_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (this.busy.size > 0) {
      if (Date.now() > until) throw new Error(`fake Compute Engine still busy after ${timeoutMs} ms`);
      await Promise.race([...this.busy, new Promise((r) => setTimeout(r, 50))]);
    }
  }

  close(): void {
    this.closed = true;
  }

  // --- helpers -------------------------------------------------------------------------------

  private operation(type: string, target: string): Operation {
    const name = `operation-${Date.now()}-${randomBytes(6).toString("hex")}-${randomBytes(4).toString("hex")}`;
    const op: Operation = {
      kind: "compute#operation",
      id: this.id(),
      name,
      zone: this.link(`zones/${this.o.zone}`),
      operationType: type,
      targetLink: this.link(target),
      status: "PENDING",
      user: "peerpods@fake-project.iam.gserviceaccount.com",
      progress: 0,
      insertTime: new Date().toISOString(),
      selfLink: this.link(`zones/${this.o.zone}/operations/${name}`),
    };
    this.operations.set(name, op);
    return op;
  }

  private finish(op: Operation, failure: OperationFailure | undefined, targetId?: string): void {
    op.status = "DONE";
    op.progress = 100;
    op.endTime = new Date().toISOString();
    if (targetId !== undefined) op.targetId = targetId;
    if (failure !== undefined) {
      op.error = { errors: [{ code: failure.code, message: failure.message }] };
      op.httpErrorStatusCode = failure.httpStatus;
      op.httpErrorMessage =
        failure.httpStatus === 503 ? "SERVICE UNAVAILABLE" : failure.httpStatus === 403 ? "FORBIDDEN" : "BAD REQUEST";
    }
  }

  private track(p: Promise<unknown>): void {
    const wrapped = p
      .catch((err: unknown) => this.backgroundErrors.push(String(err)))
      .finally(() => this.busy.delete(wrapped));
    this.busy.add(wrapped);
  }

  private delay(): Promise<void> {
    return new Promise((r) => setTimeout(r, this.o.operationMs));
  }

  private id(): string {
    this.nextId += 1n;
    return this.nextId.toString();
  }

  private image(name: string, family: string, sizeGb: number): Json {
    return {
      kind: "compute#image",
      id: this.id(),
      name,
      family,
      status: "READY",
      diskSizeGb: String(sizeGb),
      selfLink: this.link(`global/images/${name}`),
    };
  }
}

export function notFound(resource: string): GceHttpError {
  return new GceHttpError(404, "notFound", `The resource '${resource}' was not found`);
}

/** Compute Engine's list filter as the provider writes it: `labels.K = "V"` terms (or
 * `labels.K:*`), optionally parenthesised, joined by AND. Anything else is refused. */
export function parseLabelFilter(filter: string): ((labels: Record<string, string>) => boolean) | undefined {
  const terms = filter.split(/\s+AND\s+/);
  const tests: Array<(l: Record<string, string>) => boolean> = [];
  for (const raw of terms) {
    const t = raw
      .trim()
      .replace(/^\((.*)\)$/, "$1")
      .trim();
    let m = /^labels\.([a-z][a-z0-9_-]*)\s*=\s*"([^"]*)"$/.exec(t);
    if (m !== null) {
      const [, k, v] = m;
      tests.push((l) => l[k!] === v);
      continue;
    }
    m = /^labels\.([a-z][a-z0-9_-]*):\*$/.exec(t);
    if (m !== null) {
      const [, k] = m;
      tests.push((l) => l[k!] !== undefined);
      continue;
    }
    return undefined;
  }
  return (labels) => tests.every((test) => test(labels));
}
