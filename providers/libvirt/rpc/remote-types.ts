// The handles libvirt passes back and forth: a domain, network, storage pool or volume is
// named on the wire by these small structures, not by pointers.
import type { XdrReader } from "./xdr-reader.ts";
import type { XdrWriter } from "./xdr-writer.ts";

export const UUID_BYTES = 16;

export interface DomainRef {
  readonly name: string;
  readonly uuid: Buffer;
  /** Running domain's id, -1 when inactive. */
  readonly id: number;
}

export interface NetworkRef {
  readonly name: string;
  readonly uuid: Buffer;
}

export interface StoragePoolRef {
  readonly name: string;
  readonly uuid: Buffer;
}

export interface StorageVolRef {
  readonly pool: string;
  readonly name: string;
  /** Unique key of the volume (its path for file-based pools). */
  readonly key: string;
}

export function readDomainRef(r: XdrReader): DomainRef {
  return { name: r.string(), uuid: r.fixedOpaque(UUID_BYTES), id: r.int() };
}

export function writeDomainRef(w: XdrWriter, d: DomainRef): void {
  w.string(d.name).fixedOpaque(d.uuid, UUID_BYTES).int(d.id);
}

export function readNetworkRef(r: XdrReader): NetworkRef {
  return { name: r.string(), uuid: r.fixedOpaque(UUID_BYTES) };
}

export function writeNetworkRef(w: XdrWriter, n: NetworkRef): void {
  w.string(n.name).fixedOpaque(n.uuid, UUID_BYTES);
}

export function readPoolRef(r: XdrReader): StoragePoolRef {
  return { name: r.string(), uuid: r.fixedOpaque(UUID_BYTES) };
}

export function writePoolRef(w: XdrWriter, p: StoragePoolRef): void {
  w.string(p.name).fixedOpaque(p.uuid, UUID_BYTES);
}

export function readVolRef(r: XdrReader): StorageVolRef {
  return { pool: r.string(), name: r.string(), key: r.string() };
}

export function writeVolRef(w: XdrWriter, v: StorageVolRef): void {
  w.string(v.pool).string(v.name).string(v.key);
}

/** The canonical text form of a libvirt UUID. */
export function uuidString(uuid: Uint8Array): string {
  const h = Buffer.from(uuid).toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function uuidBytes(text: string): Buffer {
  const hex = text.replace(/-/g, "");
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new RangeError(`not a UUID: ${JSON.stringify(text)}`);
  return Buffer.from(hex, "hex");
}
