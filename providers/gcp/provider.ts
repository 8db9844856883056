// Peer VMs as Compute Engine instances. The daemon records a VM's name and token before asking;
// the name finds an instance an earlier attempt made, and the token becomes the insert's request
// id, so a repeated insert (after a lost answer or a crash) returns the first one's operation
// instead of making a second VM. Every instance and boot disk carries the ownership labels, with
// the full owner in metadata, so reconciliation lists the node's VMs by label filter and deletes
// only what is exactly ours.
import { setTimeout as sleep } from "node:timers/promises";
import type { protos } from "@google-cloud/compute";
import type { Logger } from "pino";
import { ANNOTATIONS } from "../../src/kata/annotations.ts";
import { chooseProviderInstanceType, type InstanceTypeChoice } from "../instance-types.ts";
import {
  type CreateVmRequest,
  type Ownership,
  type Provider,
  ProviderError,
  sameOwner,
  type VmInstance,
  type VmRef,
} from "../provider.ts";
import { ComputeClients } from "./compute-clients.ts";
import { supportsConfidential } from "./confidential.ts";
import { type GcpProviderConfig, RESOURCE_NAME } from "./config.ts";
import { createAuth, describeAuth } from "./credential.ts";
import { type CallHints, explainGceError } from "./explain-error.ts";
import { capacityReason, describeFailure, gceFailure, isNotFound } from "./gce-error.ts";
import { parseImageRef } from "./image-ref.ts";
import { instanceAddress, instanceSpec, instanceToken } from "./instance-spec.ts";
import { MachineCatalog } from "./machine-catalog.ts";
import { waitForOperation } from "./operation-wait.ts";
import { diskOwner, instanceOwner, ownerFilter } from "./ownership.ts";
import { freshRequestId, requestIdFor } from "./request-id.ts";
import { type RetryTuning, withRetries } from "./retry.ts";
import { checkGcpSetup } from "./startup-check.ts";

type Instance = protos.google.cloud.compute.v1.IInstance;

/** Compute Engine keeps at most 256 KiB in one metadata value. */
const MAX_USER_DATA_BYTES = 256 * 1024;
/** Ids of orphaned boot disks in listOwnedVms, so deleteVm knows what it is given. */
const DISK_ID_PREFIX = "disk:";
const DISK_NAME_PREFIX = "disk/";

export interface GcpProviderOptions {
  /** The daemon's environment, for Application Default Credentials' variables. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** First pause between retries of a failed request (doubles, up to 30 s). Default 1 s. */
  readonly retryDelayMs?: number;
  /** Pause between looks at an instance that is starting. Default 2 s. */
  readonly pollIntervalMs?: number;
}

export class GcpProvider implements Provider {
  readonly name = "gcp";
  private readonly config: GcpProviderConfig;
  private readonly logger: Logger;
  private readonly clients: ComputeClients;
  private readonly catalog: MachineCatalog;
  private readonly tuning: RetryTuning;
  private readonly pollIntervalMs: number;
  private readonly auth: string;

  constructor(config: GcpProviderConfig, logger: Logger, options: GcpProviderOptions = {}) {
    this.config = config;
    this.logger = logger;
    this.tuning = { baseDelayMs: options.retryDelayMs ?? 1000, maxDelayMs: 30_000 };
    this.pollIntervalMs = options.pollIntervalMs ?? 2000;
    this.auth = describeAuth(config.serviceAccountKey);
    this.clients = new ComputeClients(
      createAuth(config.serviceAccountKey, options.env ?? process.env),
      config.endpoint,
      config.serviceAccountKey?.universeDomain,
    );
    this.catalog = new MachineCatalog(this.clients, config.projectId, config.zone, this.tuning, logger);
  }

  async check(signal: AbortSignal): Promise<void> {
    await checkGcpSetup(
      {
        config: this.config,
        clients: this.clients,
        catalog: this.catalog,
        tuning: this.tuning,
        logger: this.logger,
        auth: this.auth,
      },
      signal,
    );
    this.logger.info(
      { project: this.config.projectId, zone: this.config.zone, image: this.config.image.path, credential: this.auth },
      "GCP provider ready",
    );
  }

  async createVm(req: CreateVmRequest, signal: AbortSignal): Promise<VmInstance> {
    if (!RESOURCE_NAME.test(req.name))
      throw new ProviderError(
        `VM name ${JSON.stringify(req.name)} is not a valid Compute Engine instance name (1-63 lower-case letters, digits and -, starting with a letter)`,
      );
    const size = Buffer.byteLength(req.userData, "utf8");
    if (size > MAX_USER_DATA_BYTES)
      throw new ProviderError(
        `user-data for ${req.name} is ${size} bytes; a Compute Engine metadata value holds at most ${MAX_USER_DATA_BYTES}`,
      );
    const log = this.logger.child({ vm: req.name, sandbox: req.owner.sandboxId });
    const hints = this.hints(req);
    const image = this.imageFor(req);
    const what = `creating instance ${req.name}`;

    let choice: InstanceTypeChoice;
    try {
      choice = await this.chooseType(req, signal);
      const existing = await this.getInstance(req.name, signal);
      if (existing !== undefined) {
        const o = instanceOwner(existing);
        if (!sameOwner(o, req.owner)) throw this.notOursError("instance", req.name, o);
        if (
          instanceToken(existing) === req.token &&
          existing.status !== "STOPPING" &&
          existing.status !== "TERMINATED"
        ) {
          log.info({ status: existing.status }, "found the instance an earlier attempt made");
          return await this.awaitRunning(req, signal);
        }
        // Left by an attempt the daemon rolled back: its user-data is stale.
        log.info({ status: existing.status }, "removing an instance left by an earlier attempt");
        await this.deleteInstance(req.name, signal);
      }
    } catch (err) {
      throw explainGceError(err, what, this.auth, hints);
    }

    const candidates = [choice.name, ...choice.fallbacks];
    const tried: string[] = [];
    for (const [k, machineType] of candidates.entries()) {
      const spec = instanceSpec({
        name: req.name,
        zone: this.config.zone,
        machineType,
        image,
        diskType: this.config.diskType,
        diskSizeGiB: this.config.rootVolumeSizeGiB,
        network: this.config.network,
        subnetwork: this.config.subnetwork,
        usePublicIp: this.config.usePublicIp,
        confidentialType: this.config.confidentialType,
        gpus: req.resources.gpus ?? 0,
        userData: req.userData,
        owner: req.owner,
        token: req.token,
        labels: this.config.labels,
      });
      const requestId = requestIdFor(req.token, machineType);
      try {
        log.info(
          { machineType, reason: choice.reason, requestId, confidential: this.config.confidentialType ?? "none" },
          "inserting instance",
        );
        const [op] = await withRetries(
          `inserting instance ${req.name}`,
          () =>
            this.clients.instances.insert(
              { project: this.config.projectId, zone: this.config.zone, requestId, instanceResource: spec },
              this.clients.call(signal),
            ),
          this.tuning,
          log,
          signal,
        );
        await this.awaitOperation(op, log, signal);
        return await this.awaitRunning(req, signal);
      } catch (err) {
        const f = gceFailure(err);
        const capacity = capacityReason(f);
        tried.push(`${machineType} (${describeFailure(f)})`);
        if (
          capacity !== undefined &&
          choice.reason === "smallest-fit" &&
          k + 1 < candidates.length &&
          !signal.aborted
        ) {
          log.warn(
            { machineType, next: candidates[k + 1], reason: capacity },
            "no capacity for this machine type; trying the next fitting one",
          );
          // A failed insert leaves no instance, but make sure before inserting another.
          await this.deleteInstance(req.name, signal).catch((e: unknown) =>
            log.warn({ err: (e as Error).message }, "could not make sure no instance is left"),
          );
          continue;
        }
        const e = explainGceError(err, `${what} (machine type ${machineType})`, this.auth, {
          ...hints,
          machineType: { variable: typeVariable(choice), value: machineType },
        });
        if (capacity !== undefined && tried.length > 1) {
          throw new ProviderError(
            `no capacity in ${this.config.zone} for ${req.name}: tried ${tried.join(", ")} — add machine types to GCP_INSTANCE_TYPES or use another zone`,
            { retryable: true, cause: err },
          );
        }
        throw e;
      }
    }
    throw new ProviderError(`no machine type could be created for ${req.name}`, { retryable: true });
  }

  async deleteVm(vm: VmRef, signal: AbortSignal): Promise<void> {
    const isDisk = vm.id?.startsWith(DISK_ID_PREFIX) === true;
    const name = isDisk ? vm.id!.slice(DISK_ID_PREFIX.length) : vm.name;
    const what = `deleting ${isDisk ? "disk" : "instance"} ${name}`;
    try {
      if (!RESOURCE_NAME.test(name)) return; // no Compute Engine resource can carry that name
      if (isDisk) {
        const disk = await this.getDisk(name, signal);
        if (disk === undefined) return;
        const o = diskOwner(disk);
        if (!sameOwner(o, vm.owner)) return this.leftAlone("disk", name, o);
        if ((disk.users ?? []).length > 0)
          throw new ProviderError(`disk ${name} is in use by ${disk.users!.join(", ")}; it is left alone`);
        await this.deleteDisk(name, signal);
        this.logger.info({ disk: name }, "orphaned boot disk deleted");
        return;
      }
      const instance = await this.getInstance(name, signal);
      if (instance === undefined) return;
      const o = instanceOwner(instance);
      if (!sameOwner(o, vm.owner)) return this.leftAlone("instance", name, o);
      await this.deleteInstance(name, signal);
      this.logger.info({ vm: name }, "instance and boot disk deleted");
    } catch (err) {
      throw explainGceError(err, what, this.auth);
    }
  }

  async listOwnedVms(owner: Omit<Ownership, "sandboxId">, signal: AbortSignal): Promise<VmInstance[]> {
    const filter = ownerFilter(owner);
    const mine = (o: Ownership | undefined): o is Ownership =>
      o !== undefined && o.node === owner.node && o.cluster === owner.cluster;
    try {
      const out: VmInstance[] = [];
      const call = () => this.clients.call(signal);
      const page = (pageToken: string | undefined) =>
        this.inZone({ filter, maxResults: 100, ...(pageToken === undefined ? {} : { pageToken }) });
      const instances = await this.listAll(
        "listing instances",
        (t) => this.clients.instances.list(page(t), call()),
        signal,
      );
      for (const i of instances) {
        const o = instanceOwner(i);
        if (!mine(o) || typeof i.name !== "string") continue;
        out.push({
          id: String(i.id ?? i.name),
          name: i.name,
          address: instanceAddress(i, this.config.usePublicIp),
          owner: o,
          details: {
            kind: "instance",
            machineType: lastSegment(i.machineType),
            status: i.status ?? "",
            zone: this.config.zone,
          },
        });
      }
      const disks = await this.listAll("listing disks", (t) => this.clients.disks.list(page(t), call()), signal);
      for (const d of disks) {
        const o = diskOwner(d);
        // A boot disk no instance uses: left by an instance that failed or was deleted without it.
        if (!mine(o) || typeof d.name !== "string" || (d.users ?? []).length > 0) continue;
        out.push({
          id: DISK_ID_PREFIX + d.name,
          name: DISK_NAME_PREFIX + d.name,
          address: undefined,
          owner: o,
          details: { kind: "disk", zone: this.config.zone },
        });
      }
      return out;
    } catch (err) {
      throw explainGceError(err, `listing this node's instances and disks in ${this.config.zone}`, this.auth);
    }
  }

  async close(): Promise<void> {
    await this.clients.close();
  }

  // --- helpers ------------------------------------------------------------------------------

  /** Polls the instance until it runs and has its address, within the deadline. */
  private async awaitRunning(req: CreateVmRequest, signal: AbortSignal): Promise<VmInstance> {
    let last = "not yet visible";
    for (;;) {
      const i = await this.getInstance(req.name, signal);
      if (i !== undefined) {
        const address = instanceAddress(i, this.config.usePublicIp);
        if (i.status === "RUNNING" && address !== undefined) {
          this.logger.info({ vm: req.name, address, machineType: lastSegment(i.machineType) }, "instance running");
          return {
            id: String(i.id ?? req.name),
            name: req.name,
            address,
            owner: req.owner,
            details: {
              kind: "instance",
              machineType: lastSegment(i.machineType),
              zone: this.config.zone,
              confidential: this.config.confidentialType ?? "none",
            },
          };
        }
        if (i.status === "STOPPING" || i.status === "TERMINATED" || i.status === "SUSPENDED") {
          throw new ProviderError(
            `instance ${req.name} became ${i.status} while starting${i.statusMessage ? `: ${i.statusMessage}` : ""}`,
            { retryable: true },
          );
        }
        last =
          i.status === "RUNNING"
            ? `RUNNING without ${this.config.usePublicIp ? "an external" : "an internal"} address`
            : (i.status ?? "unknown");
      }
      try {
        await sleep(this.pollIntervalMs, undefined, { signal });
      } catch {
        throw new ProviderError(
          `instance ${req.name} did not run in time (last seen ${last}): the call's deadline passed`,
          { retryable: true },
        );
      }
    }
  }

  private getInstance(name: string, signal: AbortSignal): Promise<Instance | undefined> {
    return this.getOrUndefined(`reading instance ${name}`, signal, () =>
      this.clients.instances.get(this.inZone({ instance: name }), this.clients.call(signal)),
    );
  }

  private getDisk(name: string, signal: AbortSignal) {
    return this.getOrUndefined(`reading disk ${name}`, signal, () =>
      this.clients.disks.get(this.inZone({ disk: name }), this.clients.call(signal)),
    );
  }

  /** One zonal read, retried; a resource that is not there is undefined. */
  private async getOrUndefined<T>(
    what: string,
    signal: AbortSignal,
    read: () => Promise<readonly [T, ...unknown[]]>,
  ): Promise<T | undefined> {
    try {
      const [item] = await withRetries(what, read, this.tuning, this.logger, signal);
      return item;
    } catch (err) {
      if (isNotFound(gceFailure(err))) return undefined;
      throw err;
    }
  }

  /** Deletes the instance (its boot disk goes with it) and waits; gone already is success. */
  private deleteInstance(name: string, signal: AbortSignal): Promise<void> {
    return this.deleteAndWait(
      `deleting instance ${name}`,
      (requestId) =>
        this.clients.instances.delete(this.inZone({ instance: name, requestId }), this.clients.call(signal)),
      signal,
    );
  }

  private deleteDisk(name: string, signal: AbortSignal): Promise<void> {
    return this.deleteAndWait(
      `deleting disk ${name}`,
      (requestId) => this.clients.disks.delete(this.inZone({ disk: name, requestId }), this.clients.call(signal)),
      signal,
    );
  }

  /** One zonal delete: sent with a request id (so a retry is the same request), retried, its
   * operation waited on; a resource already gone is success. */
  private async deleteAndWait(
    what: string,
    send: (requestId: string) => Promise<readonly [{ latestResponse: unknown }, ...unknown[]]>,
    signal: AbortSignal,
  ): Promise<void> {
    const requestId = freshRequestId();
    try {
      const [op] = await withRetries(what, () => send(requestId), this.tuning, this.logger, signal);
      await this.awaitOperation(op, this.logger, signal);
    } catch (err) {
      if (isNotFound(gceFailure(err))) return;
      throw err;
    }
  }

  /** Waits for the zonal operation a call answered with. */
  private awaitOperation(op: { latestResponse: unknown }, log: Logger, signal: AbortSignal): Promise<unknown> {
    const started = op.latestResponse as protos.google.cloud.compute.v1.IOperation;
    return waitForOperation(this.clients, this.config.projectId, this.config.zone, started, this.tuning, log, signal);
  }

  /** A request's fields with the provider's project and zone. */
  private inZone<T extends object>(fields: T): T & { project: string; zone: string } {
    return { project: this.config.projectId, zone: this.config.zone, ...fields };
  }

  /** Every item of a paged list. */
  private async listAll<T>(
    what: string,
    page: (pageToken: string | undefined) => Promise<[T[], unknown, { nextPageToken?: string | null } | undefined]>,
    signal: AbortSignal,
  ): Promise<T[]> {
    const out: T[] = [];
    let pageToken: string | undefined;
    do {
      const token = pageToken;
      const [items, , raw] = await withRetries(what, () => page(token), this.tuning, this.logger, signal);
      out.push(...items);
      pageToken = raw?.nextPageToken ?? undefined;
    } while (pageToken !== undefined && pageToken !== "");
    return out;
  }

  private async chooseType(req: CreateVmRequest, signal: AbortSignal): Promise<InstanceTypeChoice> {
    const catalog = this.config.instanceTypes.length === 0 ? new Map() : await this.catalog.all(signal);
    const allowed = this.config.instanceTypes.flatMap((t) => {
      const spec = catalog.get(t);
      return spec === undefined ? [] : [spec];
    });
    const choice = chooseProviderInstanceType(req.resources, {
      allowed,
      defaultType: this.config.machineType,
      allowedVariable: "GCP_INSTANCE_TYPES",
      defaultVariable: "GCP_MACHINE_TYPE",
    });
    const ct = this.config.confidentialType;
    if (ct !== undefined && !supportsConfidential(choice.name, ct)) {
      throw new ProviderError(
        `machine type ${choice.name} (${choice.reason === "annotation" ? `annotation ${ANNOTATIONS.machineType}` : typeVariable(choice)}) cannot run ${ct} confidential VMs; choose a type that can, or set DISABLECVM=true`,
      );
    }
    return ct === undefined
      ? choice
      : { ...choice, fallbacks: choice.fallbacks.filter((t) => supportsConfidential(t, ct)) };
  }

  private imageFor(req: CreateVmRequest): string {
    const wanted = req.resources.image?.trim();
    if (wanted === undefined || wanted === "") return this.config.image.path;
    const ref = parseImageRef(wanted, this.config.projectId);
    if (ref === undefined)
      throw new ProviderError(
        `the pod's image annotation ${JSON.stringify(wanted)} is not a Compute Engine image (expected a name, projects/P/global/images/NAME or .../images/family/F)`,
      );
    return ref.path;
  }

  private hints(req: CreateVmRequest): CallHints {
    const image = req.resources.image?.trim();
    return {
      image:
        image === undefined || image === ""
          ? { variable: "PODVM_IMAGE_NAME", value: this.config.image.path }
          : { variable: `annotation ${ANNOTATIONS.image}`, value: image },
      network: { variable: "GCP_NETWORK", value: this.config.network },
      ...(this.config.subnetwork === undefined
        ? {}
        : { subnetwork: { variable: "GCP_SUBNETWORK", value: this.config.subnetwork } }),
      diskType: { variable: "GCP_DISK_TYPE", value: this.config.diskType },
      zone: { variable: "GCP_ZONE", value: this.config.zone },
      project: { variable: "GCP_PROJECT_ID", value: this.config.projectId },
    };
  }

  private notOursError(kind: string, name: string, o: Ownership | undefined): ProviderError {
    return new ProviderError(`${kind} ${name} in ${this.config.zone} ${describeOwner(o)}; it is left alone`);
  }

  /** A VM or disk of that name that is not exactly ours: not ours to delete, so ours is gone. */
  private leftAlone(kind: string, name: string, o: Ownership | undefined): void {
    this.logger.warn({ [kind]: name }, `${kind} ${name} ${describeOwner(o)}; left alone`);
  }
}

function describeOwner(o: Ownership | undefined): string {
  return o === undefined
    ? "carries no peer pod ownership marks (or marks that disagree)"
    : `belongs to sandbox ${o.sandboxId} on node ${o.node} of cluster ${o.cluster}`;
}

function typeVariable(choice: InstanceTypeChoice): string {
  return choice.reason === "annotation"
    ? `annotation ${ANNOTATIONS.machineType}`
    : choice.reason === "default"
      ? "GCP_MACHINE_TYPE"
      : "GCP_INSTANCE_TYPES";
}

function lastSegment(url: string | null | undefined): string {
  return (url ?? "").split("/").at(-1) ?? "";
}
