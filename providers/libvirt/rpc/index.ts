// A TypeScript client of libvirt's remote protocol: the procedures the libvirt provider uses.
export {
  type ConnectOptions,
  type DhcpLease,
  DomainState,
  LibvirtClient,
  ListDomainsFlags,
  MetadataType,
  ShutdownFlags,
  UndefineFlags,
} from "./libvirt-client.ts";
export { ErrorCode, hasCode, isNotFound, LibvirtConnectionError, LibvirtError } from "./libvirt-error.ts";
export {
  flagParam,
  type LibvirtTransportKind,
  type LibvirtUri,
  LibvirtUriError,
  parseLibvirtUri,
} from "./libvirt-uri.ts";
export {
  type DomainRef,
  type NetworkRef,
  type StoragePoolRef,
  type StorageVolRef,
  uuidBytes,
  uuidString,
} from "./remote-types.ts";
export { RpcConnection, type RpcTransport } from "./rpc-connection.ts";
