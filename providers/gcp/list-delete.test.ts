// Listing by label filter (page by page), deleting only what is exactly ours, and orphaned boot
// disks found and deleted.
import { describe, expect, it } from "vitest";
import { gcpTestBedPerFile, TEST_OWNER } from "../../test/support/gcp-test-bed.ts";
import { labelValue, OWNER_KEYS, ownerDescription, ownerLabels } from "./ownership.ts";

const bed = gcpTestBedPerFile({ fake: { pageSize: 2 } });

const signal = () => AbortSignal.timeout(20_000);

describe("gcp provider: list and delete", () => {
  it("lists this node's and cluster's instances over several pages, and no one else's", async () => {
    for (const n of ["podvm-l1", "podvm-l2", "podvm-l3"]) await bed.provider.createVm(bed.request(n), signal());
    await bed.provider.createVm(bed.request("podvm-other-node", { node: "worker-b" }), signal());
    const owned = await bed.provider.listOwnedVms(TEST_OWNER, signal());
    expect(owned.map((v) => v.name).sort()).toEqual(["podvm-l1", "podvm-l2", "podvm-l3"]);
    expect(owned[0]!.owner).toMatchObject(TEST_OWNER);
    const lists = bed.fake.requests.filter(
      (r) => r.method === "GET" && r.resource === "instances" && r.name === undefined,
    );
    expect(lists.length).toBeGreaterThanOrEqual(2);
  });

  it("deletes an instance by name only when its marks are exactly ours, and an absent one is success", async () => {
    const owned = await bed.provider.listOwnedVms(TEST_OWNER, signal());
    const ownerOf = (name: string) => owned.find((v) => v.name === name)!.owner;
    await bed.provider.deleteVm({ id: undefined, name: "podvm-l1", owner: ownerOf("podvm-l1") }, signal());
    expect(bed.fake.model.instances.has("podvm-l1")).toBe(false);
    await bed.provider.deleteVm({ id: undefined, name: "podvm-never-made", owner: ownerOf("podvm-l2") }, signal());

    // Another sandbox's marks: left alone (ours is not there, which counts as gone).
    await bed.provider.deleteVm(
      { id: undefined, name: "podvm-l2", owner: { ...ownerOf("podvm-l2"), sandboxId: "someone-else" } },
      signal(),
    );
    await bed.provider.deleteVm(
      { id: undefined, name: "podvm-l2", owner: { ...ownerOf("podvm-l2"), cluster: "Cluster-2" } },
      signal(),
    );
    expect(bed.fake.model.instances.has("podvm-l2")).toBe(true);

    // Labels that disagree with the full marks in metadata (edited by hand, or another tool's VM): not ours.
    const l2 = bed.fake.model.instances.get("podvm-l2")!;
    const labels = l2.labels;
    l2.labels = { ...labels, [OWNER_KEYS.sandboxId]: "other" };
    await bed.provider.deleteVm({ id: undefined, name: "podvm-l2", owner: ownerOf("podvm-l2") }, signal());
    expect(bed.fake.model.instances.has("podvm-l2")).toBe(true);
    l2.labels = labels;
    await bed.provider.deleteVm({ id: undefined, name: "podvm-l2", owner: ownerOf("podvm-l2") }, signal());
    expect(bed.fake.model.instances.has("podvm-l2")).toBe(false);
  });

  it("finds a boot disk no instance uses and deletes it through deleteVm", async () => {
    const owner = { sandboxId: "crashed-sandbox", ...TEST_OWNER };
    bed.fake.model.addOrphanDisk("podvm-crashed", ownerLabels(owner, new Map()), ownerDescription(owner));
    bed.fake.model.addOrphanDisk(
      "someone-elses-disk",
      { [OWNER_KEYS.node]: labelValue(TEST_OWNER.node), [OWNER_KEYS.cluster]: labelValue(TEST_OWNER.cluster) },
      "not ours",
    );
    const owned = await bed.provider.listOwnedVms(TEST_OWNER, signal());
    const disk = owned.find((v) => v.details?.kind === "disk");
    expect(disk).toMatchObject({ name: "disk/podvm-crashed", owner, address: undefined });
    expect(owned.filter((v) => v.details?.kind === "disk")).toHaveLength(1);
    await bed.provider.deleteVm(
      { id: disk!.id, name: disk!.name, owner: { ...owner, sandboxId: "another" } },
      signal(),
    );
    expect(bed.fake.model.disks.has("podvm-crashed")).toBe(true);
    await bed.provider.deleteVm(disk!, signal());
    expect(bed.fake.model.disks.has("podvm-crashed")).toBe(false);
    expect(bed.fake.model.disks.has("someone-elses-disk")).toBe(true);
  });
});
