// Start-up check: every resource the configuration names exists and the identity may read it.
// Each problem is one line naming the variable to fix; sign-in failures stop the check early,
// since every other request would fail the same way.

import { ProviderError } from "../provider.ts";
import { armFailure, describeFailure, isNotFound, isSignInFailure } from "./arm-error.ts";
import { probeAuthority } from "./authority-probe.ts";
import type { AzureClients } from "./azure-clients.ts";
import type { AzureProviderConfig } from "./config.ts";
import { describeCredential } from "./credential.ts";
import type { SizeCatalog } from "./size-catalog.ts";

/** Where the identity library signs in when AZURE_AUTHORITY_HOST is unset. */
const DEFAULT_AUTHORITY_HOST = "https://login.microsoftonline.com";

export async function checkAzureSetup(
  config: AzureProviderConfig,
  clients: AzureClients,
  sizes: SizeCatalog,
  trustedCa: string | undefined,
  signal: AbortSignal,
): Promise<void> {
  const problems: string[] = [];
  // What a failed probe means: missing resource → `missing`; anything else → Azure's words.
  const probe = async (
    variable: string,
    value: string,
    missing: string,
    call: () => Promise<unknown>,
  ): Promise<boolean> => {
    try {
      await call();
      return true;
    } catch (err) {
      if (isSignInFailure(err)) throw await diagnosedSignInError(config, trustedCa, err);
      signal.throwIfAborted();
      const f = armFailure(err);
      if (f.code === "SubscriptionNotFound" || f.code === "InvalidSubscriptionId") {
        problems.push(`AZURE_SUBSCRIPTION_ID=${config.subscriptionId}: ${describeFailure(f)}`);
      } else if (f.code === "ResourceGroupNotFound") {
        // (List answers lose Azure's message in the SDK; the code is enough here.)
        problems.push(`${variable}=${value}: resource group not found in subscription ${config.subscriptionId}`);
      } else if (isNotFound(f)) {
        problems.push(`${variable}=${value}: ${missing}`);
      } else if (f.code === "AuthorizationFailed" || f.status === 403) {
        problems.push(
          `${variable}=${value}: the identity (${describeCredential(config.credential)}) may not read it: ${describeFailure(f)}`,
        );
      } else {
        problems.push(`${variable}=${value}: ${describeFailure(f)}`);
      }
      return false;
    }
  };

  const compute = clients.computeFor();
  const groupOk = await probe("AZURE_RESOURCE_GROUP", config.resourceGroup, "resource group not found", async () => {
    // Listing the group's VMs proves the sign-in, the group and the right to read VMs at once.
    await compute.virtualMachines.list(config.resourceGroup, { abortSignal: signal }).byPage().next();
  });

  const subnet = config.subnet;
  await probe("AZURE_SUBNET_ID", subnet.id, "subnet not found", () =>
    clients
      .networkFor(subnet.subscriptionId)
      .subnets.get(subnet.resourceGroup, subnet.virtualNetwork, subnet.subnet, { abortSignal: signal }),
  );
  const nsg = config.nsg;
  if (nsg !== undefined) {
    await probe("AZURE_NSG_ID", nsg.id, "network security group not found", () =>
      clients
        .networkFor(nsg.subscriptionId)
        .networkSecurityGroups.get(nsg.resourceGroup, nsg.name, { abortSignal: signal }),
    );
  }

  const image = config.image;
  await probe("AZURE_IMAGE_ID", image.id, "image not found", () => {
    const options = { abortSignal: signal };
    switch (image.kind) {
      case "managed-image":
        return clients.computeFor(image.subscriptionId).images.get(image.resourceGroup, image.name, options);
      case "gallery-image":
        return clients
          .computeFor(image.subscriptionId)
          .galleryImages.get(image.resourceGroup, image.gallery, image.image, options);
      case "gallery-image-version":
        return clients
          .computeFor(image.subscriptionId)
          .galleryImageVersions.get(image.resourceGroup, image.gallery, image.image, image.version, options);
      case "community-gallery":
        return compute.communityGalleryImageVersions.get(
          config.region,
          image.gallery,
          image.image,
          image.version,
          options,
        );
      case "shared-gallery":
        return compute.sharedGalleryImageVersions.get(
          config.region,
          image.gallery,
          image.image,
          image.version,
          options,
        );
    }
  });

  let catalog: ReadonlyMap<string, unknown> | undefined;
  await probe("AZURE_REGION", config.region, "region not found", async () => {
    catalog = await sizes.all(signal);
  });
  if (catalog !== undefined && catalog.size === 0)
    problems.push(`AZURE_REGION=${config.region}: the region lists no VM sizes`);
  if (catalog !== undefined && catalog.size > 0) {
    if (!catalog.has(config.instanceSize.toLowerCase()))
      problems.push(`AZURE_INSTANCE_SIZE=${config.instanceSize}: region ${config.region} offers no such VM size`);
    const unknown = config.instanceSizes.filter((s) => !catalog!.has(s.toLowerCase()));
    if (unknown.length > 0)
      problems.push(
        `AZURE_INSTANCE_SIZES=${config.instanceSizes.join(",")}: region ${config.region} offers no VM size ${unknown.join(", ")}`,
      );
  }

  if (problems.length > 0) {
    throw new ProviderError(
      `Azure configuration check failed${groupOk ? "" : " (no VM can be created)"}:\n  ${problems.join("\n  ")}`,
    );
  }
}

/** A sign-in failure, with the reason the authority could not be read when the library hid it. */
async function diagnosedSignInError(
  config: AzureProviderConfig,
  trustedCa: string | undefined,
  err: unknown,
): Promise<ProviderError> {
  const plain = signInError(config, err);
  const c = config.credential;
  if (c.kind === "managed-identity" || !/endpoints_resolution_error/.test(plain.message)) return plain;
  const why = await probeAuthority(config.authorityHost ?? DEFAULT_AUTHORITY_HOST, c.tenantId, trustedCa);
  return why === undefined ? plain : new ProviderError(`${plain.message}; the authority ${why}`, { cause: err });
}

export function signInError(config: AzureProviderConfig, err: unknown): ProviderError {
  const why = err instanceof Error ? err.message.split("\n")[0] : String(err);
  return new ProviderError(`Azure sign-in with the ${describeCredential(config.credential)} failed: ${why}`, {
    cause: err,
  });
}
