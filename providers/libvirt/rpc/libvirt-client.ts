// A typed client of the libvirt procedures the provider needs, over one RpcConnection.
// Opening follows libvirt's own client: AUTH_LIST (and polkit when that is all the daemon
// offers), then CONNECT_OPEN with the URI the daemon should open.
import { ErrorCode, LibvirtConnectionError, LibvirtError } from "./libvirt-error.ts";
import { type LibvirtUri, parseLibvirtUri } from "./libvirt-uri.ts";
import { Procedure } from "./procedures.ts";
import {
  type DomainRef,
  type NetworkRef,
  readDomainRef,
  readNetworkRef,
  readPoolRef,
  readVolRef,
  type StoragePoolRef,
  type StorageVolRef,
  UUID_BYTES,
  writeDomainRef,
  writeNetworkRef,
  writePoolRef,
  writeVolRef,
} from "./remote-types.ts";
import { RpcConnection, type RpcTransport } from "./rpc-connection.ts";
import { DEFAULT_TCP_PORT, localSocketPath, openTcpTransport, openUnixTransport } from "./socket-transport.ts";
import { openSshTransport } from "./ssh-transport.ts";
import type { XdrReader } from "./xdr-reader.ts";

const AUTH_NONE = 0;
const AUTH_SASL = 1;
const AUTH_POLKIT = 2;
const AUTH_POLKIT_PROC = 70;

/** virDomainState. */
export const DomainState = {
  noState: 0,
  running: 1,
  blocked: 2,
  paused: 3,
  shutdown: 4,
  shutoff: 5,
  crashed: 6,
  pmSuspended: 7,
} as const;

/** virDomainMetadataType. */
export const MetadataType = { description: 0, title: 1, element: 2 } as const;

/** virDomainUndefineFlagsValues. */
export const UndefineFlags = {
  managedSave: 1,
  snapshotsMetadata: 2,
  nvram: 4,
  keepNvram: 8,
  checkpointsMetadata: 16,
} as const;

/** virDomainShutdownFlagValues (subset). */
export const ShutdownFlags = { acpiPowerButton: 1, guestAgent: 2 } as const;

/** virConnectListAllDomainsFlags (subset). */
export const ListDomainsFlags = { active: 1, inactive: 2 } as const;

export interface DhcpLease {
  readonly iface: string;
  /** Seconds since the epoch. */
  readonly expiryTime: bigint;
  /** 0 IPv4, 1 IPv6. */
  readonly type: number;
  readonly mac: string | undefined;
  readonly iaid: string | undefined;
  readonly ipAddress: string;
  readonly prefix: number;
  readonly hostname: string | undefined;
  readonly clientId: string | undefined;
}

export interface ConnectOptions {
  readonly signal?: AbortSignal;
  /** Environment for finding local sockets (XDG_RUNTIME_DIR for session URIs). */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

const str = (r: XdrReader) => r.string();
const optStr = (r: XdrReader) => r.optional(str);
const none = () => undefined;

export class LibvirtClient {
  readonly uri: LibvirtUri;
  private readonly rpc: RpcConnection;

  private constructor(uri: LibvirtUri, rpc: RpcConnection) {
    this.uri = uri;
    this.rpc = rpc;
  }

  static async connect(uriText: string, options: ConnectOptions = {}): Promise<LibvirtClient> {
    const uri = parseLibvirtUri(uriText);
    const rpc = new RpcConnection(await openTransport(uri, options));
    const client = new LibvirtClient(uri, rpc);
    try {
      await client.authenticate(options.signal);
      await rpc.call(
        Procedure.connectOpen,
        (w) => w.optional(uri.remoteName, (x, v) => x.string(v)).uint(0),
        none,
        options.signal,
      );
    } catch (err) {
      await rpc.destroy();
      throw err;
    }
    return client;
  }

  get isOpen(): boolean {
    return this.rpc.isOpen;
  }

  get description(): string {
    return this.rpc.description;
  }

  /** CONNECT_CLOSE, then the transport. Never throws: the connection ends either way. */
  async close(): Promise<void> {
    if (this.rpc.isOpen)
      await this.rpc.call(Procedure.connectClose, undefined, none, AbortSignal.timeout(5000)).catch(() => {});
    await this.rpc.destroy();
  }

  whenClosed(): Promise<void> {
    return this.rpc.whenClosed();
  }

  // ---- connection ----

  getLibVersion(signal?: AbortSignal): Promise<bigint> {
    return this.rpc.call(Procedure.connectGetLibVersion, undefined, (r) => r.uhyper(), signal);
  }

  getType(signal?: AbortSignal): Promise<string> {
    return this.rpc.call(Procedure.connectGetType, undefined, str, signal);
  }

  getHostname(signal?: AbortSignal): Promise<string> {
    return this.rpc.call(Procedure.connectGetHostname, undefined, str, signal);
  }

  getCapabilities(signal?: AbortSignal): Promise<string> {
    return this.rpc.call(Procedure.connectGetCapabilities, undefined, str, signal);
  }

  /** What a domain of `virttype` (kvm, qemu) for `arch` may use: firmware, devices, features (SEV, TDX, ...). */
  getDomainCapabilities(
    options: { arch?: string; virttype?: string; machine?: string; emulatorbin?: string },
    signal?: AbortSignal,
  ): Promise<string> {
    return this.rpc.call(
      Procedure.connectGetDomainCapabilities,
      (w) =>
        w
          .optional(options.emulatorbin, (x, v) => x.string(v))
          .optional(options.arch, (x, v) => x.string(v))
          .optional(options.machine, (x, v) => x.string(v))
          .optional(options.virttype, (x, v) => x.string(v))
          .uint(0),
      str,
      signal,
    );
  }

  // ---- domains ----

  listAllDomains(flags = 0, signal?: AbortSignal): Promise<DomainRef[]> {
    return this.rpc.call(
      Procedure.connectListAllDomains,
      (w) => w.int(1).uint(flags),
      (r) => {
        const list = r.array(readDomainRef);
        r.uint();
        return list;
      },
      signal,
    );
  }

  lookupDomainByName(name: string, signal?: AbortSignal): Promise<DomainRef> {
    return this.rpc.call(Procedure.domainLookupByName, (w) => w.string(name), readDomainRef, signal);
  }

  lookupDomainByUuid(uuid: Uint8Array, signal?: AbortSignal): Promise<DomainRef> {
    return this.rpc.call(Procedure.domainLookupByUuid, (w) => w.fixedOpaque(uuid, UUID_BYTES), readDomainRef, signal);
  }

  defineDomainXml(xml: string, flags = 0, signal?: AbortSignal): Promise<DomainRef> {
    return this.rpc.call(Procedure.domainDefineXmlFlags, (w) => w.string(xml).uint(flags), readDomainRef, signal);
  }

  /** Starts a defined domain; the answer carries its new id. */
  startDomain(dom: DomainRef, flags = 0, signal?: AbortSignal): Promise<DomainRef> {
    return this.rpc.call(
      Procedure.domainCreateWithFlags,
      (w) => (writeDomainRef(w, dom), w.uint(flags)),
      readDomainRef,
      signal,
    );
  }

  destroyDomain(dom: DomainRef, flags = 0, signal?: AbortSignal): Promise<void> {
    return this.rpc.call(Procedure.domainDestroyFlags, (w) => (writeDomainRef(w, dom), w.uint(flags)), none, signal);
  }

  /** Asks the guest to shut down (flags 1: ACPI power button); returns before it has. */
  shutdownDomain(dom: DomainRef, flags = 0, signal?: AbortSignal): Promise<void> {
    return this.rpc.call(Procedure.domainShutdownFlags, (w) => (writeDomainRef(w, dom), w.uint(flags)), none, signal);
  }

  undefineDomain(dom: DomainRef, flags = 0, signal?: AbortSignal): Promise<void> {
    return this.rpc.call(Procedure.domainUndefineFlags, (w) => (writeDomainRef(w, dom), w.uint(flags)), none, signal);
  }

  getDomainXml(dom: DomainRef, flags = 0, signal?: AbortSignal): Promise<string> {
    return this.rpc.call(Procedure.domainGetXmlDesc, (w) => (writeDomainRef(w, dom), w.uint(flags)), str, signal);
  }

  isDomainActive(dom: DomainRef, signal?: AbortSignal): Promise<boolean> {
    return this.rpc.call(
      Procedure.domainIsActive,
      (w) => writeDomainRef(w, dom),
      (r) => r.int() === 1,
      signal,
    );
  }

  getDomainState(dom: DomainRef, signal?: AbortSignal): Promise<{ state: number; reason: number }> {
    return this.rpc.call(
      Procedure.domainGetState,
      (w) => (writeDomainRef(w, dom), w.uint(0)),
      (r) => ({ state: r.int(), reason: r.int() }),
      signal,
    );
  }

  /** The domain's metadata element in namespace `uri`, or undefined when it has none. */
  async getDomainMetadata(
    dom: DomainRef,
    type: number,
    uri: string | undefined,
    flags = 0,
    signal?: AbortSignal,
  ): Promise<string | undefined> {
    try {
      return await this.rpc.call(
        Procedure.domainGetMetadata,
        (w) => (
          writeDomainRef(w, dom),
          w
            .int(type)
            .optional(uri, (x, v) => x.string(v))
            .uint(flags)
        ),
        str,
        signal,
      );
    } catch (err) {
      if (err instanceof LibvirtError && err.code === ErrorCode.noDomainMetadata) return undefined;
      throw err;
    }
  }

  // ---- storage ----

  lookupStoragePoolByName(name: string, signal?: AbortSignal): Promise<StoragePoolRef> {
    return this.rpc.call(Procedure.storagePoolLookupByName, (w) => w.string(name), readPoolRef, signal);
  }

  isStoragePoolActive(pool: StoragePoolRef, signal?: AbortSignal): Promise<boolean> {
    return this.rpc.call(
      Procedure.storagePoolIsActive,
      (w) => writePoolRef(w, pool),
      (r) => r.int() === 1,
      signal,
    );
  }

  refreshStoragePool(pool: StoragePoolRef, signal?: AbortSignal): Promise<void> {
    return this.rpc.call(Procedure.storagePoolRefresh, (w) => (writePoolRef(w, pool), w.uint(0)), none, signal);
  }

  getStoragePoolXml(pool: StoragePoolRef, signal?: AbortSignal): Promise<string> {
    return this.rpc.call(Procedure.storagePoolGetXmlDesc, (w) => (writePoolRef(w, pool), w.uint(0)), str, signal);
  }

  listAllVolumes(pool: StoragePoolRef, signal?: AbortSignal): Promise<StorageVolRef[]> {
    return this.rpc.call(
      Procedure.storagePoolListAllVolumes,
      (w) => (writePoolRef(w, pool), w.int(1).uint(0)),
      (r) => {
        const list = r.array(readVolRef);
        r.uint();
        return list;
      },
      signal,
    );
  }

  lookupStorageVolByName(pool: StoragePoolRef, name: string, signal?: AbortSignal): Promise<StorageVolRef> {
    return this.rpc.call(
      Procedure.storageVolLookupByName,
      (w) => (writePoolRef(w, pool), w.string(name)),
      readVolRef,
      signal,
    );
  }

  createStorageVolXml(pool: StoragePoolRef, xml: string, flags = 0, signal?: AbortSignal): Promise<StorageVolRef> {
    return this.rpc.call(
      Procedure.storageVolCreateXml,
      (w) => (writePoolRef(w, pool), w.string(xml).uint(flags)),
      readVolRef,
      signal,
    );
  }

  deleteStorageVol(vol: StorageVolRef, flags = 0, signal?: AbortSignal): Promise<void> {
    return this.rpc.call(Procedure.storageVolDelete, (w) => (writeVolRef(w, vol), w.uint(flags)), none, signal);
  }

  getStorageVolXml(vol: StorageVolRef, signal?: AbortSignal): Promise<string> {
    return this.rpc.call(Procedure.storageVolGetXmlDesc, (w) => (writeVolRef(w, vol), w.uint(0)), str, signal);
  }

  getStorageVolPath(vol: StorageVolRef, signal?: AbortSignal): Promise<string> {
    return this.rpc.call(Procedure.storageVolGetPath, (w) => writeVolRef(w, vol), str, signal);
  }

  /** Writes `data` into the volume from `offset` (length 0: to the end) through a stream. */
  uploadStorageVol(
    vol: StorageVolRef,
    data: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    options: { offset?: bigint; length?: bigint; flags?: number; signal?: AbortSignal } = {},
  ): Promise<number> {
    return this.rpc.upload(
      Procedure.storageVolUpload,
      (w) => (
        writeVolRef(w, vol),
        w
          .uhyper(options.offset ?? 0n)
          .uhyper(options.length ?? 0n)
          .uint(options.flags ?? 0)
      ),
      data,
      options.signal,
    );
  }

  // ---- networks ----

  lookupNetworkByName(name: string, signal?: AbortSignal): Promise<NetworkRef> {
    return this.rpc.call(Procedure.networkLookupByName, (w) => w.string(name), readNetworkRef, signal);
  }

  isNetworkActive(net: NetworkRef, signal?: AbortSignal): Promise<boolean> {
    return this.rpc.call(
      Procedure.networkIsActive,
      (w) => writeNetworkRef(w, net),
      (r) => r.int() === 1,
      signal,
    );
  }

  startNetwork(net: NetworkRef, signal?: AbortSignal): Promise<void> {
    return this.rpc.call(Procedure.networkCreate, (w) => writeNetworkRef(w, net), none, signal);
  }

  getNetworkXml(net: NetworkRef, signal?: AbortSignal): Promise<string> {
    return this.rpc.call(Procedure.networkGetXmlDesc, (w) => (writeNetworkRef(w, net), w.uint(0)), str, signal);
  }

  /** The network's DHCP leases, only those of `mac` when given. */
  getNetworkDhcpLeases(net: NetworkRef, mac?: string, signal?: AbortSignal): Promise<DhcpLease[]> {
    return this.rpc.call(
      Procedure.networkGetDhcpLeases,
      (w) => (
        writeNetworkRef(w, net),
        w
          .optional(mac, (x, v) => x.string(v))
          .int(1)
          .uint(0)
      ),
      (r) => {
        const leases = r.array((x) => ({
          iface: x.string(),
          expiryTime: x.hyper(),
          type: x.int(),
          mac: optStr(x),
          iaid: optStr(x),
          ipAddress: x.string(),
          prefix: x.uint(),
          hostname: optStr(x),
          clientId: optStr(x),
        }));
        r.uint();
        return leases;
      },
      signal,
    );
  }

  private async authenticate(signal?: AbortSignal): Promise<void> {
    const types = await this.rpc.call(Procedure.authList, undefined, (r) => r.array((x) => x.int(), 20), signal);
    if (types.length === 0 || types.includes(AUTH_NONE)) return;
    if (types.includes(AUTH_POLKIT)) {
      const complete = await this.rpc.call(AUTH_POLKIT_PROC, undefined, (r) => r.int(), signal);
      if (complete === 1) return;
      throw new LibvirtConnectionError(`libvirt at ${this.rpc.description} refused polkit authorisation`);
    }
    const offered = types.map((t) => (t === AUTH_SASL ? "sasl" : String(t))).join(", ");
    throw new LibvirtConnectionError(
      `libvirt at ${this.rpc.description} requires authentication this client does not speak (${offered}): use qemu+ssh:// or set auth_unix_rw/auth_tcp to "none" for trusted sockets`,
    );
  }
}

function openTransport(uri: LibvirtUri, options: ConnectOptions): Promise<RpcTransport> {
  switch (uri.transport) {
    case "unix":
      return openUnixTransport(localSocketPath(uri, options.env), options.signal);
    case "tcp":
      return openTcpTransport(uri.host!, uri.port ?? DEFAULT_TCP_PORT, options.signal);
    case "ssh":
      return openSshTransport(uri, options.signal);
  }
}
