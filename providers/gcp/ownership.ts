// How a peer VM says who owns it. GCP labels are what the API filters on, but a label value
// holds at most 63 lower-case letters, digits, '-' and '_': a 64-character sandbox id, a node
// name with dots or a cluster name with capitals do not fit. So each owner field is written
// twice: as a label (the value made label-safe, long ones shortened with a hash) for listing by
// filter, and in full in the instance's metadata (the boot disk's description, disks having no
// metadata). A VM is ours only when both agree exactly with the owner we expect.
import { sha256Hex } from "../../src/util/sha256-hex.ts";
import type { Ownership } from "../provider.ts";

/** Label (and metadata) keys the provider writes; TAGS may not use this prefix. */
export const LABEL_PREFIX = "peerpods-";
export const OWNER_KEYS = {
  sandboxId: "peerpods-sandbox-id",
  node: "peerpods-node",
  cluster: "peerpods-cluster",
} as const;

const LABEL_KEY = /^[a-z][a-z0-9_-]{0,62}$/;
const LABEL_VALUE = /^[a-z0-9_-]{0,63}$/;

export const isLabelKey = (k: string): boolean => LABEL_KEY.test(k);
export const isLabelValue = (v: string): boolean => LABEL_VALUE.test(v);

/** A label-safe form of `value`: the same text when it already fits, else a lossy form that
 * stays distinct from others by a hash of the original. */
export function labelValue(value: string): string {
  if (LABEL_VALUE.test(value)) return value;
  const safe = value.toLowerCase().replace(/[^a-z0-9_-]/g, "-");
  const hash = sha256Hex(value).slice(0, 8);
  return `${safe.slice(0, 54)}-${hash}`;
}

/** The ownership labels of a VM or disk, plus the operator's extra labels. */
export function ownerLabels(owner: Ownership, extra: ReadonlyMap<string, string>): Record<string, string> {
  return {
    ...Object.fromEntries(extra),
    [OWNER_KEYS.sandboxId]: labelValue(owner.sandboxId),
    [OWNER_KEYS.node]: labelValue(owner.node),
    [OWNER_KEYS.cluster]: labelValue(owner.cluster),
  };
}

/** The metadata items that keep the owner in full. */
export function ownerMetadata(owner: Ownership): Array<{ key: string; value: string }> {
  return [
    { key: OWNER_KEYS.sandboxId, value: owner.sandboxId },
    { key: OWNER_KEYS.node, value: owner.node },
    { key: OWNER_KEYS.cluster, value: owner.cluster },
  ];
}

const DISK_DESCRIPTION_PREFIX = "peer pod VM boot disk ";

/** A boot disk's description, carrying the owner in full. */
export function ownerDescription(owner: Ownership): string {
  return (
    DISK_DESCRIPTION_PREFIX + JSON.stringify({ sandboxId: owner.sandboxId, node: owner.node, cluster: owner.cluster })
  );
}

interface Labelled {
  readonly labels?: { readonly [k: string]: string } | null;
}

/** The owner of an instance: its metadata's full values, when its labels agree. */
export function instanceOwner(
  i: Labelled & {
    readonly metadata?: {
      readonly items?: ReadonlyArray<{ readonly key?: string | null; readonly value?: string | null }> | null;
    } | null;
  },
): Ownership | undefined {
  const items = i.metadata?.items ?? [];
  const get = (key: string) => items.find((it) => it.key === key)?.value ?? undefined;
  return agreed(i, get(OWNER_KEYS.sandboxId), get(OWNER_KEYS.node), get(OWNER_KEYS.cluster));
}

/** The owner of a disk: its description's full values, when its labels agree. */
export function diskOwner(d: Labelled & { readonly description?: string | null }): Ownership | undefined {
  const text = d.description ?? "";
  if (!text.startsWith(DISK_DESCRIPTION_PREFIX)) return undefined;
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(text.slice(DISK_DESCRIPTION_PREFIX.length)) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const s = (v: unknown) => (typeof v === "string" ? v : undefined);
  return agreed(d, s(o.sandboxId), s(o.node), s(o.cluster));
}

function agreed(
  r: Labelled,
  sandboxId: string | undefined,
  node: string | undefined,
  cluster: string | undefined,
): Ownership | undefined {
  if (sandboxId === undefined || node === undefined || cluster === undefined) return undefined;
  const labels = r.labels ?? {};
  if (
    labels[OWNER_KEYS.sandboxId] !== labelValue(sandboxId) ||
    labels[OWNER_KEYS.node] !== labelValue(node) ||
    labels[OWNER_KEYS.cluster] !== labelValue(cluster)
  )
    return undefined;
  return { sandboxId, node, cluster };
}

/** The list filter for this node's and cluster's resources (labels only; metadata is checked
 * on each result). */
export function ownerFilter(owner: Omit<Ownership, "sandboxId">): string {
  return `(labels.${OWNER_KEYS.node} = "${labelValue(owner.node)}") AND (labels.${OWNER_KEYS.cluster} = "${labelValue(owner.cluster)}")`;
}
