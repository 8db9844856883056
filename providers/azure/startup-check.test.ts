import { afterEach, describe, expect, it } from "vitest";
import { type AzureTestBed, azureTestBed } from "../../test/support/azure-test-bed.ts";
import { ProviderError } from "../provider.ts";

let bed: AzureTestBed | undefined;
afterEach(async () => {
  await bed?.close();
  bed = undefined;
});

async function checkError(env: Record<string, string | undefined>): Promise<ProviderError> {
  bed = await azureTestBed({ env });
  const err = await bed.provider.check(AbortSignal.timeout(10_000)).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ProviderError);
  return err as ProviderError;
}

describe("Azure start-up check", () => {
  it("passes when the group, subnet, NSG, image and sizes exist, signing in with the client secret", async () => {
    bed = await azureTestBed({ env: { AZURE_INSTANCE_SIZES: "Standard_DC2as_v5,standard_dc4as_v5" } });
    await bed.provider.check(AbortSignal.timeout(10_000));
    expect(bed.fake.identity.tokenRequests).toBe(1);
    const arm = bed.fake.requests.filter((r) => r.path.startsWith("/subscriptions/"));
    expect(arm.map((r) => r.type).sort()).toEqual([
      "networkSecurityGroups",
      "subnets",
      "versions",
      "virtualMachines",
      "vmSizes",
    ]);
    // Every Resource Manager request names its api-version, as Azure demands.
    expect(arm.every((r) => /^\d{4}-\d{2}-\d{2}$/.test(r.apiVersion ?? ""))).toBe(true);
  });

  it("accepts a managed image, a gallery image without version and a community gallery image", async () => {
    bed = await azureTestBed();
    const m = bed.fake.model;
    for (const id of [m.managedImageId(), m.galleryImageId(), m.communityImageId()]) {
      await bed.restarted({ AZURE_IMAGE_ID: id }).check(AbortSignal.timeout(10_000));
    }
    expect(bed.fake.requests.filter((r) => r.type === "images" || r.type === "versions").map((r) => r.status)).toEqual([
      200, 200, 200,
    ]);
  });

  it("names every variable whose resource is missing, in one error", async () => {
    bed = await azureTestBed();
    const m = bed.fake.model;
    const env = {
      AZURE_SUBNET_ID: m.subnetId().replace(m.subnet, "no-such-subnet"),
      AZURE_NSG_ID: m.nsgId().replace(m.nsg, "no-such-nsg"),
      AZURE_IMAGE_ID: m.galleryImageVersionId().replace("1.0.0", "9.9.9"),
      AZURE_INSTANCE_SIZE: "Standard_NoSuch_v9",
      AZURE_INSTANCE_SIZES: "Standard_DC2as_v5,Standard_Gone_v1",
    };
    const err = await bed
      .restarted(env)
      .check(AbortSignal.timeout(10_000))
      .then(
        () => undefined,
        (e: unknown) => e as Error,
      );
    expect(err).toBeInstanceOf(ProviderError);
    if (err === undefined) return;
    expect(err.message).toContain(`AZURE_SUBNET_ID=${env.AZURE_SUBNET_ID}: subnet not found`);
    expect(err.message).toContain(`AZURE_NSG_ID=${env.AZURE_NSG_ID}: network security group not found`);
    expect(err.message).toContain(`AZURE_IMAGE_ID=${env.AZURE_IMAGE_ID}: image not found`);
    expect(err.message).toContain("AZURE_INSTANCE_SIZE=Standard_NoSuch_v9: region eastus offers no such VM size");
    expect(err.message).toContain("offers no VM size Standard_Gone_v1");
    expect(err.message).not.toContain("offers no VM size Standard_DC2as_v5");
  });

  it("names a missing resource group", async () => {
    const err = await checkError({ AZURE_RESOURCE_GROUP: "rg-missing" });
    expect(err.message).toContain(
      `AZURE_RESOURCE_GROUP=rg-missing: resource group not found in subscription ${bed!.fake.subscriptionId}`,
    );
  });

  it("names the subscription Azure does not know", async () => {
    const err = await checkError({ AZURE_SUBSCRIPTION_ID: "11111111-2222-3333-4444-555555555555" });
    expect(err.message).toContain("AZURE_SUBSCRIPTION_ID=11111111-2222-3333-4444-555555555555: SubscriptionNotFound");
  });

  it("reports a refused sign-in with the identity it tried, and stops there", async () => {
    const err = await checkError({ AZURE_CLIENT_SECRET: "wrong-secret" });
    expect(err.message).toMatch(
      /^Azure sign-in with the client secret of application 4e2a9c1d-[\w-]+ in tenant 72f988bf-[\w-]+ failed: .*AADSTS7000215/,
    );
    expect(err.message).not.toContain("wrong-secret");
    expect(bed!.fake.requests.filter((r) => r.path.startsWith("/subscriptions/"))).toEqual([]);
  });
});
