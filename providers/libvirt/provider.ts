// Peer VMs as libvirt domains. A create defines the domain first (its <metadata> carries
// the ownership marks and the create token), then makes its disk (a qcow2 overlay on the
// base volume) and its NoCloud cidata volume (uploaded through a stream), starts it and waits
// for its DHCP lease. Whatever step a crash interrupts, a domain with our marks exists, so
// reconciliation finds it and deleteVm removes domain and volumes by name.
import type { Logger } from "pino";
import { ANNOTATIONS } from "../../src/kata/annotations.ts";
import {
  type CreateVmRequest,
  type Ownership,
  ownerText,
  type Provider,
  ProviderError,
  type ResourceRequest,
  sameOwner,
  type VmInstance,
  type VmRef,
} from "../provider.ts";
import { buildCidataImage, noCloudFiles } from "./cidata-image.ts";
import type { LibvirtProviderConfig } from "./config.ts";
import { domainXml, randomMac } from "./domain-xml.ts";
import { explainLibvirtError } from "./explain-error.ts";
import { confidentialRefusal, offeredLaunchSecurity } from "./launch-security.ts";
import { LibvirtSession } from "./libvirt-session.ts";
import { METADATA_NAMESPACE, parseOwnershipMetadata, type VmMarks } from "./ownership-metadata.ts";
import {
  type DomainRef,
  ErrorCode,
  hasCode,
  isNotFound,
  type LibvirtClient,
  MetadataType,
  type NetworkRef,
  ShutdownFlags,
  type StoragePoolRef,
  type StorageVolRef,
  UndefineFlags,
  uuidBytes,
  uuidString,
} from "./rpc/index.ts";
import { overlayVolumeXml, parseVolumeXml, rawVolumeXml, vmVolumeNames } from "./volume-xml.ts";
import { waitForLease } from "./wait-for-lease.ts";

export interface LibvirtProviderOptions {
  readonly logger: Logger;
  /** Pause between DHCP lease polls. */
  readonly leasePollMs?: number;
}

const UNDEFINE_ALL =
  UndefineFlags.managedSave | UndefineFlags.snapshotsMetadata | UndefineFlags.nvram | UndefineFlags.checkpointsMetadata;

export class LibvirtProvider implements Provider {
  readonly name = "libvirt";
  private readonly config: LibvirtProviderConfig;
  private readonly logger: Logger;
  private readonly options: LibvirtProviderOptions;
  private readonly session: LibvirtSession;
  private domainType: Promise<"kvm" | "qemu"> | undefined;

  constructor(config: LibvirtProviderConfig, options: LibvirtProviderOptions) {
    this.config = config;
    this.options = options;
    this.logger = options.logger;
    this.session = new LibvirtSession(config.uri, options.logger);
  }

  async check(signal: AbortSignal): Promise<void> {
    const client = await this.session.client(signal);
    const problems: string[] = [];
    const collect = (p: Promise<unknown>) =>
      p.catch((err: unknown) => problems.push((explainLibvirtError(err, "check", signal) as Error).message));
    await Promise.all([
      collect(
        (async () => {
          const pool = await this.pool(client, signal);
          await this.baseVolume(client, pool, undefined, signal);
        })(),
      ),
      collect(this.network(client, signal)),
      collect(this.resolveDomainType(client, signal)),
      ...(this.config.confidential === undefined ? [] : [collect(this.refuseConfidential(client, signal))]),
    ]);
    if (problems.length > 0) {
      throw new ProviderError(
        `libvirt provider check failed (LIBVIRT_URI=${this.config.uri}):\n${problems.map((p) => `  ${p}`).join("\n")}`,
      );
    }
    this.logger.info(
      {
        uri: this.config.uri,
        pool: this.config.pool,
        volume: this.config.volumeName,
        network: this.config.network,
        domainType: await this.resolveDomainType(client, signal),
      },
      "libvirt provider ready",
    );
  }

  async createVm(req: CreateVmRequest, signal: AbortSignal): Promise<VmInstance> {
    const log = this.logger.child({ vm: req.name, sandbox: req.owner.sandboxId });
    const size = this.size(req.resources);
    const client = await this.session.client(signal);
    const step = async <T>(action: string, fn: () => Promise<T>): Promise<T> => {
      try {
        return await fn();
      } catch (err) {
        throw explainLibvirtError(err, `${action} for ${req.name}`, signal);
      }
    };
    if (this.config.confidential !== undefined)
      await step("confidential guest", () => this.refuseConfidential(client, signal));
    const pool = await step("storage pool", () => this.pool(client, signal));
    const network = await step("network", () => this.network(client, signal));
    const type = await step("domain type", () => this.resolveDomainType(client, signal));
    const names = vmVolumeNames(req.name);

    let dom = await step("domain lookup", () => this.findDomain(client, undefined, req.name, signal));
    let marks: VmMarks | undefined;
    if (dom !== undefined) {
      marks = await step("domain metadata", () => this.marksOf(client, dom!, signal));
      if (marks === undefined)
        throw new ProviderError(
          `a domain named ${req.name} already exists on ${this.config.uri} without the daemon's ownership metadata: it is left alone; remove or rename it`,
        );
      if (!sameOwner(marks.owner, req.owner))
        throw new ProviderError(
          `domain ${req.name} on ${this.config.uri} belongs to ${ownerText(marks.owner)}, not to sandbox ${req.owner.sandboxId} on node ${req.owner.node} of cluster ${req.owner.cluster}: it is left alone`,
        );
      if (marks.token === req.token) {
        log.info({ vmId: uuidString(dom.uuid) }, "found the domain an earlier attempt defined");
      } else {
        log.warn({ vmId: uuidString(dom.uuid) }, "removing the domain of an earlier, abandoned attempt");
        await this.deleteVm({ id: uuidString(dom.uuid), name: req.name, owner: req.owner }, signal);
        dom = undefined;
        marks = undefined;
      }
    }
    let base: { path: string; format: string; capacityBytes: bigint } | undefined;
    if (dom === undefined || marks === undefined) {
      // A missing image fails the pod before anything exists that would need removing.
      base = await step("base volume", () => this.baseVolume(client, pool, req.resources.image, signal));
      // Volumes an attempt left without a domain belong to nobody.
      await step("clean-up of old volumes", () => this.deleteVolumes(client, pool, names, signal));
      marks = { owner: req.owner, token: req.token, mac: randomMac() };
      const xml = domainXml({
        name: req.name,
        type,
        vcpus: size.vcpus,
        memoryMiB: size.memoryMiB,
        pool: pool.name,
        diskVolume: names.disk,
        cidataVolume: names.cidata,
        network: network.name,
        marks,
        kernelBoot: this.config.kernelBoot,
        efiFirmware: this.config.efiFirmware,
        cpuset: this.config.cpuset,
        consoleLog: this.consoleLog(req.name),
      });
      dom = await step("define domain", () => client.defineDomainXml(xml, 0, signal));
      log.info(
        { vmId: uuidString(dom!.uuid), type, vcpus: size.vcpus, memoryMiB: size.memoryMiB, mac: marks.mac },
        "domain defined",
      );
    }
    const domain = dom;
    const active = await step("domain state", () => client.isDomainActive(domain, signal));
    if (!active) {
      if ((await step("disk lookup", () => this.findVolume(client, pool, names.disk, signal))) === undefined) {
        const backing =
          base ?? (await step("base volume", () => this.baseVolume(client, pool, req.resources.image, signal)));
        await step("create disk", () =>
          client.createStorageVolXml(pool, overlayVolumeXml(names.disk, backing, this.config.rootDiskBytes), 0, signal),
        );
      }
      // The seed is written afresh each time: an upload a crash cut short must not be reused.
      await step("cidata volume", () => this.writeCidata(client, pool, names.cidata, req, signal));
      await step("start domain", () => client.startDomain(domain, 0, signal));
      log.info("domain started");
    }
    const address = await step("address", () =>
      waitForLease(
        client,
        {
          vmName: req.name,
          mac: marks!.mac,
          network,
          domain,
          timeoutMs: this.config.addressTimeoutMs,
          pollMs: this.options.leasePollMs ?? 1000,
          consoleHint: this.consoleLog(req.name),
        },
        signal,
      ),
    );
    log.info({ address }, "peer VM has its address");
    return this.instance(domain, marks, address, {
      domainType: type,
      vcpus: String(size.vcpus),
      memoryMiB: String(size.memoryMiB),
    });
  }

  async deleteVm(vm: VmRef, signal: AbortSignal): Promise<void> {
    const client = await this.session.client(signal);
    const step = async <T>(action: string, fn: () => Promise<T>): Promise<T> => {
      try {
        return await fn();
      } catch (err) {
        throw explainLibvirtError(err, `${action} for ${vm.name}`, signal);
      }
    };
    const dom = await step("domain lookup", () => this.findDomain(client, vm.id, vm.name, signal));
    const names = new Set([vm.name]);
    if (dom !== undefined) {
      const marks = await step("domain metadata", () => this.marksOf(client, dom, signal));
      if (!sameOwner(marks?.owner, vm.owner)) {
        // Another cluster's, node's or sandbox's domain (or nobody's), with its volumes: not
        // ours, so ours is gone.
        this.logger.warn(
          { vm: dom.name, vmId: uuidString(dom.uuid), owner: marks?.owner, expected: vm.owner },
          `domain ${dom.name} on ${this.config.uri} belongs to ${ownerText(marks?.owner)}; left alone with its volumes`,
        );
        return;
      }
      names.add(dom.name);
      await step("stop domain", () => this.stopDomain(client, dom, signal));
      await step("undefine domain", () => this.undefine(client, dom, signal));
      this.logger.info({ vm: dom.name, vmId: uuidString(dom.uuid) }, "domain removed");
    }
    let pool: StoragePoolRef;
    try {
      pool = await client.lookupStoragePoolByName(this.config.pool, signal);
    } catch (err) {
      // No pool, no volumes.
      if (isNotFound(err)) return;
      throw explainLibvirtError(err, `storage pool for ${vm.name}`, signal);
    }
    for (const name of names) {
      // Volumes of a name a domain still holds are that domain's (another's: ours is gone).
      const holder = await step("domain lookup", () => ignoreNotFound(client.lookupDomainByName(name, signal)));
      if (holder !== undefined) {
        this.logger.warn({ vm: name }, `volumes of ${name} belong to another domain of that name; left alone`);
        continue;
      }
      await step("delete volumes", () => this.deleteVolumes(client, pool, vmVolumeNames(name), signal));
    }
  }

  async listOwnedVms(owner: Omit<Ownership, "sandboxId">, signal: AbortSignal): Promise<VmInstance[]> {
    const client = await this.session.client(signal);
    try {
      const domains = await client.listAllDomains(0, signal);
      const marked = await Promise.all(
        domains.map(async (d) => {
          try {
            return { d, marks: await this.marksOf(client, d, signal) };
          } catch (err) {
            // Gone between the list and the question: nothing to own.
            if (isNotFound(err)) return { d, marks: undefined };
            throw err;
          }
        }),
      );
      const ours = marked.filter(
        (m): m is { d: DomainRef; marks: VmMarks } =>
          m.marks !== undefined && m.marks.owner.node === owner.node && m.marks.owner.cluster === owner.cluster,
      );
      if (ours.length === 0) return [];
      const addresses = await this.leaseAddresses(client, signal);
      return ours.map(({ d, marks }) => this.instance(d, marks, addresses.get(marks.mac.toLowerCase()), {}));
    } catch (err) {
      throw explainLibvirtError(err, "listing owned domains", signal);
    }
  }

  async close(): Promise<void> {
    await this.session.close();
  }

  private size(r: ResourceRequest): { vcpus: number; memoryMiB: number } {
    if (r.gpus !== undefined && r.gpus > 0)
      throw new ProviderError(`the pod asks for ${r.gpus} GPU(s); the libvirt provider attaches none`);
    const vcpus = r.vcpus ?? this.config.cpu;
    const memoryMiB = r.memoryMiB ?? this.config.memoryMiB;
    if (vcpus > this.config.maxCpu)
      throw new ProviderError(
        `the pod asks for ${vcpus} vCPUs (default_vcpus annotation); LIBVIRT_MAX_CPU allows ${this.config.maxCpu}`,
      );
    if (memoryMiB > this.config.maxMemoryMiB)
      throw new ProviderError(
        `the pod asks for ${memoryMiB} MiB (default_memory annotation); LIBVIRT_MAX_MEMORY allows ${this.config.maxMemoryMiB}`,
      );
    return { vcpus, memoryMiB };
  }

  private consoleLog(vmName: string): string | undefined {
    return this.config.consoleLogDir === undefined
      ? undefined
      : `${this.config.consoleLogDir.replace(/\/+$/, "")}/${vmName}-console.log`;
  }

  private async pool(client: LibvirtClient, signal: AbortSignal): Promise<StoragePoolRef> {
    let pool: StoragePoolRef;
    try {
      pool = await client.lookupStoragePoolByName(this.config.pool, signal);
    } catch (err) {
      if (isNotFound(err))
        throw new ProviderError(
          `LIBVIRT_POOL=${this.config.pool}: no storage pool of that name (virsh pool-list --all)`,
        );
      throw err;
    }
    if (!(await client.isStoragePoolActive(pool, signal)))
      throw new ProviderError(
        `LIBVIRT_POOL=${this.config.pool}: the storage pool is not active (virsh pool-start ${this.config.pool})`,
      );
    return pool;
  }

  private async baseVolume(
    client: LibvirtClient,
    pool: StoragePoolRef,
    image: string | undefined,
    signal: AbortSignal,
  ): Promise<{ path: string; format: string; capacityBytes: bigint }> {
    const name = image ?? this.config.volumeName;
    const setting = image === undefined ? "LIBVIRT_VOL_NAME" : `annotation ${ANNOTATIONS.image}`;
    const vol = await this.findVolume(client, pool, name, signal);
    if (vol === undefined)
      throw new ProviderError(
        `${setting}=${name}: no volume of that name in storage pool ${pool.name} (upload the peer-pod image: virsh vol-create-as ${pool.name} ${name} ... && virsh vol-upload)`,
      );
    const facts = parseVolumeXml(await client.getStorageVolXml(vol, signal));
    return {
      path: facts.path ?? (await client.getStorageVolPath(vol, signal)),
      format: facts.format,
      capacityBytes: facts.capacityBytes,
    };
  }

  private async network(client: LibvirtClient, signal: AbortSignal): Promise<NetworkRef> {
    let net: NetworkRef;
    try {
      net = await client.lookupNetworkByName(this.config.network, signal);
    } catch (err) {
      if (isNotFound(err))
        throw new ProviderError(`LIBVIRT_NET=${this.config.network}: no network of that name (virsh net-list --all)`);
      throw err;
    }
    if (!(await client.isNetworkActive(net, signal)))
      throw new ProviderError(
        `LIBVIRT_NET=${this.config.network}: the network is not active (virsh net-start ${this.config.network})`,
      );
    return net;
  }

  /** Confidential guests are not made yet: always throws, saying what the host offers. */
  private async refuseConfidential(client: LibvirtClient, signal: AbortSignal): Promise<never> {
    const request = this.config.confidential!;
    const virttype = await this.resolveDomainType(client, signal);
    const caps = await client.getDomainCapabilities({ arch: "x86_64", virttype }, signal);
    throw new ProviderError(
      confidentialRefusal(request, offeredLaunchSecurity(caps), `${virttype}/x86_64 on ${this.config.uri}`),
    );
  }

  /** kvm or qemu, asked of the host once (auto), or as configured. */
  private resolveDomainType(client: LibvirtClient, signal: AbortSignal): Promise<"kvm" | "qemu"> {
    if (this.domainType === undefined) {
      const attempt = (async () => {
        if (this.config.domainType === "qemu") return "qemu" as const;
        const caps = await client.getCapabilities(signal);
        const x86 = /<arch name='x86_64'>[\s\S]*?<\/arch>/.exec(caps)?.[0] ?? "";
        const kvm = /<domain type='kvm'/.test(x86);
        if (this.config.domainType === "kvm" && !kvm)
          throw new ProviderError(
            "LIBVIRT_DOMAIN_TYPE=kvm: the libvirt host offers no KVM for x86_64 (is /dev/kvm there?); use qemu or auto",
          );
        return kvm ? ("kvm" as const) : ("qemu" as const);
      })();
      this.domainType = attempt;
      attempt.catch(() => {
        if (this.domainType === attempt) this.domainType = undefined;
      });
    }
    return this.domainType;
  }

  private async findDomain(
    client: LibvirtClient,
    id: string | undefined,
    name: string,
    signal: AbortSignal,
  ): Promise<DomainRef | undefined> {
    if (id !== undefined && /^[0-9a-fA-F-]{32,36}$/.test(id)) {
      const byId = await ignoreNotFound(client.lookupDomainByUuid(uuidBytes(id), signal));
      if (byId !== undefined) return byId;
    }
    return ignoreNotFound(client.lookupDomainByName(name, signal));
  }

  private async marksOf(client: LibvirtClient, dom: DomainRef, signal: AbortSignal): Promise<VmMarks | undefined> {
    const xml = await client.getDomainMetadata(dom, MetadataType.element, METADATA_NAMESPACE, 0, signal);
    return xml === undefined ? undefined : parseOwnershipMetadata(xml);
  }

  private findVolume(
    client: LibvirtClient,
    pool: StoragePoolRef,
    name: string,
    signal: AbortSignal,
  ): Promise<StorageVolRef | undefined> {
    return ignoreNotFound(client.lookupStorageVolByName(pool, name, signal));
  }

  private async deleteVolumes(
    client: LibvirtClient,
    pool: StoragePoolRef,
    names: { disk: string; cidata: string },
    signal: AbortSignal,
  ): Promise<void> {
    for (const name of [names.disk, names.cidata]) {
      const vol = await this.findVolume(client, pool, name, signal);
      if (vol !== undefined) await ignoreNotFound(client.deleteStorageVol(vol, 0, signal));
    }
  }

  private async writeCidata(
    client: LibvirtClient,
    pool: StoragePoolRef,
    name: string,
    req: CreateVmRequest,
    signal: AbortSignal,
  ): Promise<void> {
    const image = buildCidataImage(noCloudFiles(req.name, req.name, req.userData));
    const old = await this.findVolume(client, pool, name, signal);
    if (old !== undefined) await ignoreNotFound(client.deleteStorageVol(old, 0, signal));
    let vol: StorageVolRef;
    try {
      vol = await client.createStorageVolXml(pool, rawVolumeXml(name, image.length), 0, signal);
    } catch (err) {
      if (!hasCode(err, ErrorCode.storageVolExists)) throw err;
      vol = await client.lookupStorageVolByName(pool, name, signal);
    }
    await client.uploadStorageVol(vol, [image], { length: BigInt(image.length), signal });
  }

  /** Undefines with its managed save, snapshots, checkpoints and NVRAM; drivers that know
   * none of those refuse the flags, and get a plain undefine. */
  private async undefine(client: LibvirtClient, dom: DomainRef, signal: AbortSignal): Promise<void> {
    try {
      await ignoreNotFound(client.undefineDomain(dom, UNDEFINE_ALL, signal));
    } catch (err) {
      if (!hasCode(err, ErrorCode.invalidArg) && !hasCode(err, ErrorCode.argumentUnsupported)) throw err;
      await ignoreNotFound(client.undefineDomain(dom, 0, signal));
    }
  }

  /** ACPI shutdown first (a clean guest releases its DHCP lease), then power off. */
  private async stopDomain(client: LibvirtClient, dom: DomainRef, signal: AbortSignal): Promise<void> {
    if (!(await ignoreNotFound(client.isDomainActive(dom, signal)))) return;
    const grace = this.config.shutdownGraceMs;
    if (grace > 0) {
      const asked = await client.shutdownDomain(dom, ShutdownFlags.acpiPowerButton, signal).then(
        () => true,
        (err: unknown) => {
          if (isNotFound(err) || hasCode(err, ErrorCode.operationInvalid)) return false;
          throw err;
        },
      );
      const until = Date.now() + grace;
      let pressedAt = Date.now();
      while (asked && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 200));
        signal.throwIfAborted();
        if (!(await ignoreNotFound(client.isDomainActive(dom, signal)))) return;
        // A guest still booting has nothing listening for the button yet: press it again.
        if (Date.now() - pressedAt >= 2000) {
          pressedAt = Date.now();
          await client.shutdownDomain(dom, ShutdownFlags.acpiPowerButton, signal).catch(() => undefined);
        }
      }
    }
    try {
      await client.destroyDomain(dom, 0, signal);
    } catch (err) {
      // Stopped meanwhile: the goal is reached.
      if (isNotFound(err) || hasCode(err, ErrorCode.operationInvalid)) return;
      throw err;
    }
  }

  private async leaseAddresses(client: LibvirtClient, signal: AbortSignal): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const net = await ignoreNotFound(client.lookupNetworkByName(this.config.network, signal));
    if (net === undefined) return out;
    for (const l of await client.getNetworkDhcpLeases(net, undefined, signal)) {
      if (l.mac !== undefined && (l.type === 0 || !out.has(l.mac.toLowerCase())))
        out.set(l.mac.toLowerCase(), l.ipAddress);
    }
    return out;
  }

  private instance(
    dom: DomainRef,
    marks: VmMarks,
    address: string | undefined,
    details: Record<string, string>,
  ): VmInstance {
    return {
      id: uuidString(dom.uuid),
      name: dom.name,
      address,
      owner: marks.owner,
      details: { mac: marks.mac, ...details },
    };
  }
}

async function ignoreNotFound<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}
