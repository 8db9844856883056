// The gcp provider through Google's real @google-cloud/compute client (REST transport) against
// the local Compute Engine endpoint: create, find, delete, list, with tokens from the key's
// token_uri.
import { describe, expect, it } from "vitest";
import { gcpTestBedPerFile, TEST_OWNER } from "../../test/support/gcp-test-bed.ts";
import { OWNER_KEYS } from "./ownership.ts";

const bed = gcpTestBedPerFile();

describe("gcp provider", () => {
  it("creates a confidential instance with user-data, labels, full owner and Shielded VM defaults", async () => {
    const req = bed.request("podvm-basic");
    const vm = await bed.provider.createVm(req, AbortSignal.timeout(30_000));
    expect(vm).toMatchObject({
      name: "podvm-basic",
      address: expect.stringMatching(/^10\.128\.0\.\d+$/),
      owner: req.owner,
    });
    const inserts = bed.fake.requests.filter((r) => r.method === "POST" && r.resource === "instances");
    expect(inserts).toHaveLength(1);
    const body = inserts[0]!.body!;
    expect(inserts[0]!.requestId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(body.machineType).toBe("zones/us-central1-a/machineTypes/n2d-standard-2");
    expect(body.metadata.items).toEqual(
      expect.arrayContaining([
        { key: "user-data", value: req.userData },
        { key: OWNER_KEYS.sandboxId, value: req.owner.sandboxId },
        { key: OWNER_KEYS.node, value: TEST_OWNER.node },
        { key: OWNER_KEYS.cluster, value: TEST_OWNER.cluster },
      ]),
    );
    expect(body.labels[OWNER_KEYS.sandboxId]).toMatch(/^[a-z0-9_-]{1,63}$/);
    expect(body.labels[OWNER_KEYS.node]).toMatch(/^worker-a-example-internal-[0-9a-f]{8}$/);
    expect(body.confidentialInstanceConfig).toEqual({ confidentialInstanceType: "SEV_SNP" });
    expect(body.scheduling).toEqual({ onHostMaintenance: "TERMINATE" });
    expect(body.shieldedInstanceConfig).toEqual({
      enableSecureBoot: false,
      enableVtpm: true,
      enableIntegrityMonitoring: true,
    });
    expect(body.disks[0]).toMatchObject({
      boot: true,
      autoDelete: true,
      initializeParams: {
        sourceImage: "projects/peerpods-test-1/global/images/podvm-image",
        diskType: "zones/us-central1-a/diskTypes/pd-standard",
      },
    });
    expect(bed.fake.tokenRequests).toBeGreaterThan(0);

    const owned = await bed.provider.listOwnedVms(TEST_OWNER, AbortSignal.timeout(10_000));
    expect(owned.map((v) => v.name)).toContain("podvm-basic");
    await bed.provider.deleteVm({ id: vm.id, name: vm.name, owner: req.owner }, AbortSignal.timeout(10_000));
    expect(bed.fake.model.instances.has("podvm-basic")).toBe(false);
    expect(bed.fake.model.disks.size).toBe(0);
  });
});
