// Azure Resource Manager ids: "/subscriptions/{s}/resourceGroups/{rg}/providers/{namespace}/
// {type}/{name}[/{child type}/{child name}...]". Path segments are case-insensitive in ARM, so
// every comparison here ignores case while the original spelling is kept for requests.

export interface ArmResourceId {
  readonly id: string;
  readonly subscriptionId: string;
  readonly resourceGroup: string;
  /** e.g. "Microsoft.Network". */
  readonly namespace: string;
  /** Type names from the outermost in, e.g. ["virtualNetworks", "subnets"]. */
  readonly types: readonly string[];
  /** Names matching `types`. */
  readonly names: readonly string[];
}

export function parseArmId(id: string): ArmResourceId | undefined {
  const parts = id.trim().replace(/\/+$/, "").split("/");
  // "", "subscriptions", s, "resourceGroups", rg, "providers", ns, type, name, ...
  if (parts.length < 9 || parts[0] !== "" || (parts.length - 7) % 2 !== 0) return undefined;
  if (!same(parts[1], "subscriptions") || !same(parts[3], "resourceGroups") || !same(parts[5], "providers"))
    return undefined;
  const rest = parts.slice(7);
  if (parts.some((p, i) => i > 0 && p === "")) return undefined;
  return {
    id: parts.join("/"),
    subscriptionId: parts[2]!,
    resourceGroup: parts[4]!,
    namespace: parts[6]!,
    types: rest.filter((_, i) => i % 2 === 0),
    names: rest.filter((_, i) => i % 2 === 1),
  };
}

/** True when the id names a resource of `namespace/types...` (case-insensitive). */
export function isArmType(ref: ArmResourceId, namespace: string, ...types: string[]): boolean {
  return (
    same(ref.namespace, namespace) && ref.types.length === types.length && ref.types.every((t, i) => same(t, types[i]))
  );
}

export interface SubnetRef {
  readonly id: string;
  readonly subscriptionId: string;
  readonly resourceGroup: string;
  readonly virtualNetwork: string;
  readonly subnet: string;
}

export function parseSubnetId(id: string): SubnetRef | undefined {
  const ref = parseArmId(id);
  if (ref === undefined || !isArmType(ref, "Microsoft.Network", "virtualNetworks", "subnets")) return undefined;
  return {
    id: ref.id,
    subscriptionId: ref.subscriptionId,
    resourceGroup: ref.resourceGroup,
    virtualNetwork: ref.names[0]!,
    subnet: ref.names[1]!,
  };
}

export interface NsgRef {
  readonly id: string;
  readonly subscriptionId: string;
  readonly resourceGroup: string;
  readonly name: string;
}

export function parseNsgId(id: string): NsgRef | undefined {
  const ref = parseArmId(id);
  if (ref === undefined || !isArmType(ref, "Microsoft.Network", "networkSecurityGroups")) return undefined;
  return { id: ref.id, subscriptionId: ref.subscriptionId, resourceGroup: ref.resourceGroup, name: ref.names[0]! };
}

/** The image a VM boots, in each form Azure accepts in an image reference. */
export type ImageRef =
  | {
      readonly kind: "managed-image";
      readonly id: string;
      readonly subscriptionId: string;
      readonly resourceGroup: string;
      readonly name: string;
    }
  | {
      readonly kind: "gallery-image-version";
      readonly id: string;
      readonly subscriptionId: string;
      readonly resourceGroup: string;
      readonly gallery: string;
      readonly image: string;
      readonly version: string;
    }
  /** A gallery image definition without version: Azure boots its latest version. */
  | {
      readonly kind: "gallery-image";
      readonly id: string;
      readonly subscriptionId: string;
      readonly resourceGroup: string;
      readonly gallery: string;
      readonly image: string;
    }
  | {
      readonly kind: "community-gallery";
      readonly id: string;
      readonly gallery: string;
      readonly image: string;
      readonly version: string;
    }
  | {
      readonly kind: "shared-gallery";
      readonly id: string;
      readonly gallery: string;
      readonly image: string;
      readonly version: string;
    };

export const IMAGE_ID_EXPECTED =
  "an image id: /subscriptions/…/resourceGroups/…/providers/Microsoft.Compute/images/NAME, " +
  "…/galleries/G/images/I[/versions/V], /CommunityGalleries/G/Images/I/Versions/V or /SharedGalleries/G/Images/I/Versions/V";

export function parseImageId(id: string): ImageRef | undefined {
  const text = id.trim().replace(/\/+$/, "");
  const direct = /^\/(CommunityGalleries|SharedGalleries)\/([^/]+)\/Images\/([^/]+)\/Versions\/([^/]+)$/i.exec(text);
  if (direct !== null) {
    const kind = same(direct[1], "CommunityGalleries") ? "community-gallery" : "shared-gallery";
    return { kind, id: text, gallery: direct[2]!, image: direct[3]!, version: direct[4]! };
  }
  const ref = parseArmId(text);
  if (ref === undefined) return undefined;
  const base = { id: ref.id, subscriptionId: ref.subscriptionId, resourceGroup: ref.resourceGroup };
  if (isArmType(ref, "Microsoft.Compute", "images")) return { kind: "managed-image", ...base, name: ref.names[0]! };
  if (isArmType(ref, "Microsoft.Compute", "galleries", "images"))
    return { kind: "gallery-image", ...base, gallery: ref.names[0]!, image: ref.names[1]! };
  if (isArmType(ref, "Microsoft.Compute", "galleries", "images", "versions")) {
    return {
      kind: "gallery-image-version",
      ...base,
      gallery: ref.names[0]!,
      image: ref.names[1]!,
      version: ref.names[2]!,
    };
  }
  return undefined;
}

/** "/subscriptions/s/resourceGroups/rg/providers/ns/type/name" for a resource in a group. */
export function armId(
  subscriptionId: string,
  resourceGroup: string,
  namespace: string,
  type: string,
  name: string,
): string {
  return `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/${namespace}/${type}/${name}`;
}

export function sameArmId(a: string | undefined, b: string | undefined): boolean {
  return (
    a !== undefined && b !== undefined && a.replace(/\/+$/, "").toLowerCase() === b.replace(/\/+$/, "").toLowerCase()
  );
}

function same(a: string | undefined, b: string | undefined): boolean {
  return a !== undefined && b !== undefined && a.toLowerCase() === b.toLowerCase();
}
