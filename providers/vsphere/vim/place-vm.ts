// ClusterComputeResource.PlaceVm: asks DRS where a clone of `vm` should go (GOVC_DRS, as
// upstream). The first recommendation's first action carries the relocate spec (host,
// datastore, resource pool) the clone then uses.
import { type MoRef, morefXml, readMoRef } from "./moref.ts";
import type { VimClient } from "./vim-client.ts";
import { type CloneSpec, cloneSpecXml, type RelocateSpec } from "./vm-specs.ts";
import { child, childrenNamed } from "./xml-node.ts";
import { el } from "./xml-write.ts";

/** DRS's placement for a clone named `cloneName`, or undefined when it recommends nothing. */
export async function placeClone(
  client: VimClient,
  cluster: MoRef,
  vm: MoRef,
  cloneName: string,
  spec: CloneSpec,
  signal: AbortSignal,
): Promise<RelocateSpec | undefined> {
  const res = await client.call(
    "PlaceVm",
    [
      morefXml("_this", cluster),
      // PlacementSpec's elements in the schema's order: vm, placementType, cloneSpec, cloneName.
      el("placementSpec", [
        morefXml("vm", vm),
        el("placementType", "clone"),
        cloneSpecXml(spec, "cloneSpec"),
        el("cloneName", cloneName),
      ]),
    ],
    signal,
  );
  const recommendation = childrenNamed(child(res, "returnval"), "recommendations")[0];
  const relocate = child(childrenNamed(recommendation, "action")[0], "relocateSpec");
  if (relocate === undefined) return undefined;
  return {
    datastore: readMoRef(child(relocate, "datastore")),
    pool: readMoRef(child(relocate, "pool")),
    host: readMoRef(child(relocate, "host")),
  };
}
