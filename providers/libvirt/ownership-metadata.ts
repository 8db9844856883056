// The ownership marks each peer VM carries in its libvirt <metadata>, under our own
// namespace: the OWNERSHIP_KEYS every provider stores, plus the create token (a retried
// create finds its own domain) and the MAC address (the VM's DHCP lease is found by it).
import { XMLParser } from "fast-xml-parser";
import { OWNERSHIP_KEYS, type Ownership } from "../provider.ts";
import { xmlEscape } from "./xml-text.ts";

export const METADATA_NAMESPACE = "urn:peerpods:libvirt:vm:1";
export const METADATA_PREFIX = "peerpods";

export interface VmMarks {
  readonly owner: Ownership;
  readonly token: string;
  readonly mac: string;
}

export function ownershipMetadataXml(marks: VmMarks): string {
  const attrs = [
    [OWNERSHIP_KEYS.sandboxId, marks.owner.sandboxId],
    [OWNERSHIP_KEYS.node, marks.owner.node],
    [OWNERSHIP_KEYS.cluster, marks.owner.cluster],
    ["token", marks.token],
    ["mac", marks.mac],
  ]
    .map(([k, v]) => `${k}="${xmlEscape(v!)}"`)
    .join(" ");
  return `<${METADATA_PREFIX}:vm xmlns:${METADATA_PREFIX}="${METADATA_NAMESPACE}" ${attrs}/>`;
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "",
  removeNSPrefix: true,
  parseAttributeValue: false,
});

/** Reads the marks back (from getDomainMetadata); undefined when they are incomplete. */
export function parseOwnershipMetadata(xml: string): VmMarks | undefined {
  let doc: Record<string, unknown>;
  try {
    doc = parser.parse(xml) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const vm = doc.vm as Record<string, unknown> | undefined;
  if (vm === undefined || typeof vm !== "object") return undefined;
  const get = (k: string) => (typeof vm[k] === "string" ? (vm[k] as string) : undefined);
  const sandboxId = get(OWNERSHIP_KEYS.sandboxId);
  const node = get(OWNERSHIP_KEYS.node);
  const cluster = get(OWNERSHIP_KEYS.cluster);
  const token = get("token");
  const mac = get("mac");
  if (
    sandboxId === undefined ||
    node === undefined ||
    cluster === undefined ||
    token === undefined ||
    mac === undefined
  )
    return undefined;
  return { owner: { sandboxId, node, cluster }, token, mac };
}
