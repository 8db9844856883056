// Storage volume XML: the VM's disk as a qcow2 overlay on the base volume, the raw cidata
// volume, and what the provider reads back from a volume's description.
import { XMLParser } from "fast-xml-parser";
import { xmlEscape } from "./xml-text.ts";

export interface VolumeFacts {
  readonly capacityBytes: bigint;
  /** Disk format (qcow2, raw, ...); raw when libvirt states none. */
  readonly format: string;
  readonly path: string | undefined;
}

/** Names of a VM's volumes in the pool. */
export function vmVolumeNames(vmName: string): { readonly disk: string; readonly cidata: string } {
  return { disk: `${vmName}.qcow2`, cidata: `${vmName}-cidata.img` };
}

/** The overlay is `sizeBytes` large (LIBVIRT_ROOT_DISK_SIZE), or the base's size when that is
 * larger: a disk smaller than its image would cut the image off. */
export function overlayVolumeXml(
  name: string,
  base: { readonly path: string; readonly format: string; readonly capacityBytes: bigint },
  sizeBytes = 0n,
): string {
  const capacity = sizeBytes > base.capacityBytes ? sizeBytes : base.capacityBytes;
  return [
    "<volume>",
    `  <name>${xmlEscape(name)}</name>`,
    `  <capacity unit='bytes'>${capacity}</capacity>`,
    "  <target><format type='qcow2'/></target>",
    `  <backingStore><path>${xmlEscape(base.path)}</path><format type='${xmlEscape(base.format)}'/></backingStore>`,
    "</volume>",
  ].join("\n");
}

export function rawVolumeXml(name: string, capacityBytes: number): string {
  return [
    "<volume>",
    `  <name>${xmlEscape(name)}</name>`,
    `  <capacity unit='bytes'>${capacityBytes}</capacity>`,
    "  <target><format type='raw'/></target>",
    "</volume>",
  ].join("\n");
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "@",
  parseTagValue: false,
  parseAttributeValue: false,
});

const UNITS: Readonly<Record<string, bigint>> = {
  b: 1n,
  bytes: 1n,
  k: 1024n,
  kib: 1024n,
  kb: 1000n,
  m: 1024n ** 2n,
  mib: 1024n ** 2n,
  mb: 1000n ** 2n,
  g: 1024n ** 3n,
  gib: 1024n ** 3n,
  gb: 1000n ** 3n,
  t: 1024n ** 4n,
  tib: 1024n ** 4n,
  tb: 1000n ** 4n,
};

export function parseVolumeXml(xml: string): VolumeFacts {
  const doc = parser.parse(xml) as {
    volume?: { capacity?: unknown; target?: { format?: { "@type"?: string }; path?: unknown } };
  };
  const vol = doc.volume;
  if (vol === undefined) throw new Error("volume description without <volume>");
  const cap = vol.capacity;
  let capacityBytes: bigint;
  if (typeof cap === "string") capacityBytes = BigInt(cap);
  else if (cap !== null && typeof cap === "object" && "#text" in cap) {
    const c = cap as { "#text": string; "@unit"?: string };
    const unit = UNITS[(c["@unit"] ?? "bytes").toLowerCase()];
    if (unit === undefined) throw new Error(`volume capacity in unknown unit ${c["@unit"]}`);
    capacityBytes = BigInt(c["#text"]) * unit;
  } else throw new Error("volume description without <capacity>");
  const path = typeof vol.target?.path === "string" ? vol.target.path : undefined;
  return { capacityBytes, format: vol.target?.format?.["@type"] ?? "raw", path };
}
