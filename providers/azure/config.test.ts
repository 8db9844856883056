import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { InvalidConfigError, renderSpecMarkdown } from "../../src/config/index.ts";
import { azureConfigSpec, azureProviderConfig } from "./config.ts";
import { throwawaySshPublicKey } from "./ssh-key.ts";

const SUB = "0b7a3c1e-5d2f-4e8a-9c6b-1f2e3d4c5b6a";
const RG = `/subscriptions/${SUB}/resourceGroups/rg-net`;
const BASE: Record<string, string> = {
  AZURE_SUBSCRIPTION_ID: SUB,
  AZURE_REGION: "eastus",
  AZURE_RESOURCE_GROUP: "rg-peerpods",
  AZURE_SUBNET_ID: `${RG}/providers/Microsoft.Network/virtualNetworks/vnet1/subnets/default`,
  AZURE_IMAGE_ID: `${RG}/providers/Microsoft.Compute/galleries/g1/images/podvm/versions/0.1.0`,
  AZURE_CLIENT_ID: "client-1",
  AZURE_CLIENT_SECRET: "s3cr3t-value",
  AZURE_TENANT_ID: "72f988bf-86f1-41af-91ab-2d7cd011db47",
};

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "azure-config-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The InvalidConfigError's variables, failing the test when loading succeeds. */
function problems(env: Record<string, string | undefined>): { variables: string[]; message: string } {
  try {
    azureProviderConfig(env);
  } catch (err) {
    if (!(err instanceof InvalidConfigError)) throw err;
    return { variables: err.errors.map((e) => ("variable" in e ? e.variable : "")), message: err.message };
  }
  throw new Error("configuration loaded although it should not");
}

describe("Azure provider configuration", () => {
  it("loads the upstream variables with their defaults", () => {
    const c = azureProviderConfig(BASE);
    expect(c.subnet).toMatchObject({ virtualNetwork: "vnet1", subnet: "default", resourceGroup: "rg-net" });
    expect(c.image).toMatchObject({ kind: "gallery-image-version", gallery: "g1", image: "podvm", version: "0.1.0" });
    expect(c.instanceSize).toBe("Standard_DC2as_v5");
    expect(c.instanceSizes).toEqual([]);
    expect(c.sshUsername).toBe("peerpod");
    expect(c.sshPublicKey).toBeUndefined();
    expect(c.confidentialVm).toBe(true);
    expect(c.usePublicIp).toBe(false);
    expect(c.nsg).toBeUndefined();
    expect(c.authorityHost).toBeUndefined();
    expect(c.resourceManagerEndpoint).toBe("https://management.azure.com");
    expect(c.credential).toEqual({
      kind: "client-secret",
      tenantId: BASE.AZURE_TENANT_ID,
      clientId: "client-1",
      clientSecret: "s3cr3t-value",
    });
  });

  it("reads sizes, tags, switches, endpoints and the NSG", () => {
    const c = azureProviderConfig({
      ...BASE,
      AZURE_NSG_ID: `${RG}/providers/Microsoft.Network/networkSecurityGroups/nsg1`,
      AZURE_INSTANCE_SIZE: "Standard_DC4as_v5",
      AZURE_INSTANCE_SIZES: "Standard_DC2as_v5, Standard_DC4as_v5",
      DISABLECVM: "true",
      USE_PUBLIC_IP: "yes",
      TAGS: "team=peerpods,env=dev",
      SSH_USERNAME: "azureuser",
      AZURE_AUTHORITY_HOST: "https://login.microsoftonline.us/",
      AZURE_RESOURCE_MANAGER_ENDPOINT: "https://management.usgovcloudapi.net/",
    });
    expect(c.nsg).toMatchObject({ name: "nsg1", resourceGroup: "rg-net" });
    expect(c.instanceSize).toBe("Standard_DC4as_v5");
    expect(c.instanceSizes).toEqual(["Standard_DC2as_v5", "Standard_DC4as_v5"]);
    expect(c.confidentialVm).toBe(false);
    expect(c.usePublicIp).toBe(true);
    expect(Object.fromEntries(c.tags)).toEqual({ team: "peerpods", env: "dev" });
    expect(c.sshUsername).toBe("azureuser");
    expect(c.authorityHost).toBe("https://login.microsoftonline.us");
    expect(c.resourceManagerEndpoint).toBe("https://management.usgovcloudapi.net");
  });

  it("names every missing required variable", () => {
    const { variables } = problems({});
    expect(variables).toEqual([
      "AZURE_SUBSCRIPTION_ID",
      "AZURE_REGION",
      "AZURE_RESOURCE_GROUP",
      "AZURE_SUBNET_ID",
      "AZURE_IMAGE_ID",
    ]);
  });

  it("names each malformed value and what was expected", () => {
    const { variables, message } = problems({
      ...BASE,
      AZURE_SUBSCRIPTION_ID: "my-subscription",
      AZURE_REGION: "east us",
      AZURE_RESOURCE_GROUP: "rg.",
      AZURE_SUBNET_ID: `${RG}/providers/Microsoft.Network/virtualNetworks/vnet1`,
      AZURE_IMAGE_ID: "ubuntu:22.04",
      AZURE_NSG_ID: "nsg1",
      SSH_USERNAME: "root",
      DISABLECVM: "maybe",
      AZURE_RESOURCE_MANAGER_ENDPOINT: "http://management.azure.com",
      AZURE_AUTHORITY_HOST: "login.microsoftonline.com",
    });
    expect(variables.sort()).toEqual(
      [
        "DISABLECVM",
        "AZURE_SUBSCRIPTION_ID",
        "AZURE_REGION",
        "AZURE_RESOURCE_GROUP",
        "AZURE_SUBNET_ID",
        "AZURE_IMAGE_ID",
        "AZURE_NSG_ID",
        "SSH_USERNAME",
        "AZURE_RESOURCE_MANAGER_ENDPOINT",
        "AZURE_AUTHORITY_HOST",
      ].sort(),
    );
    expect(message).toContain('AZURE_SUBNET_ID="/subscriptions/');
    expect(message).toContain("subnets/SUBNET");
    expect(message).toContain(
      'AZURE_RESOURCE_MANAGER_ENDPOINT="http://management.azure.com": expected an https:// URL',
    );
  });

  it("asks for the application and tenant of a client secret, and never shows the secret", () => {
    const { variables, message } = problems({
      ...BASE,
      AZURE_CLIENT_ID: undefined,
      AZURE_TENANT_ID: undefined,
      AZURE_CLIENT_SECRET: "hunter2-secret",
    });
    expect(variables).toEqual(["AZURE_CLIENT_ID", "AZURE_TENANT_ID"]);
    expect(message).toContain("when AZURE_CLIENT_SECRET is set");
    expect(message).not.toContain("hunter2-secret");
  });

  it("chooses workload identity with a federated token file, else managed identity", () => {
    const workload = azureProviderConfig({
      ...BASE,
      AZURE_CLIENT_SECRET: undefined,
      AZURE_FEDERATED_TOKEN_FILE: "/var/run/secrets/azure/tokens/azure-identity-token",
    });
    expect(workload.credential).toEqual({
      kind: "workload-identity",
      tenantId: BASE.AZURE_TENANT_ID,
      clientId: "client-1",
      tokenFile: "/var/run/secrets/azure/tokens/azure-identity-token",
    });
    expect(
      problems({
        ...BASE,
        AZURE_CLIENT_SECRET: undefined,
        AZURE_TENANT_ID: undefined,
        AZURE_FEDERATED_TOKEN_FILE: "/t",
      }).variables,
    ).toEqual(["AZURE_TENANT_ID"]);
    const userAssigned = azureProviderConfig({ ...BASE, AZURE_CLIENT_SECRET: undefined, AZURE_TENANT_ID: undefined });
    expect(userAssigned.credential).toEqual({ kind: "managed-identity", clientId: "client-1" });
    const systemAssigned = azureProviderConfig({
      ...BASE,
      AZURE_CLIENT_SECRET: undefined,
      AZURE_TENANT_ID: undefined,
      AZURE_CLIENT_ID: undefined,
    });
    expect(systemAssigned.credential).toEqual({ kind: "managed-identity", clientId: undefined });
  });

  it("refuses TAGS that would overwrite ownership tags or that Azure refuses", () => {
    expect(problems({ ...BASE, TAGS: "peerpods.node=other" }).message).toContain("reserved for ownership");
    expect(problems({ ...BASE, TAGS: "a/b=1" }).variables).toEqual(["TAGS"]);
    expect(problems({ ...BASE, TAGS: `k=${"v".repeat(257)}` }).message).toContain("at most 256");
  });

  it("reads the SSH public key from SSH_KEY_PATH and refuses a private key or a missing file", async () => {
    const pub = path.join(dir, "id_rsa.pub");
    const key = await throwawaySshPublicKey("ops@example");
    fs.writeFileSync(pub, `# operators\n${key}\n`);
    expect(azureProviderConfig({ ...BASE, SSH_KEY_PATH: pub }).sshPublicKey).toBe(key);

    const priv = path.join(dir, "id_rsa");
    fs.writeFileSync(
      priv,
      "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n",
    );
    expect(problems({ ...BASE, SSH_KEY_PATH: priv }).message).toContain("not a private key");
    expect(problems({ ...BASE, SSH_KEY_PATH: path.join(dir, "absent.pub") }).message).toMatch(
      /SSH_KEY_PATH=.*absent\.pub.*ENOENT/,
    );
  });

  it("accepts each image id form Azure boots from", () => {
    const kinds = [
      [`${RG}/providers/Microsoft.Compute/images/podvm`, "managed-image"],
      [`${RG}/providers/Microsoft.Compute/galleries/g1/images/podvm`, "gallery-image"],
      ["/CommunityGalleries/cocopodvm-d0e4f35f/Images/podvm_image0/Versions/2024.01.10", "community-gallery"],
      ["/SharedGalleries/abc-123/Images/podvm/Versions/1.0.0", "shared-gallery"],
    ] as const;
    for (const [id, kind] of kinds) expect(azureProviderConfig({ ...BASE, AZURE_IMAGE_ID: id }).image.kind).toBe(kind);
  });

  it("is documented by the README's table, kept in step with the spec", () => {
    const table = renderSpecMarkdown(azureConfigSpec);
    expect(fs.readFileSync(new URL("./README.md", import.meta.url), "utf8")).toContain(table);
    expect(table).toContain("| `AZURE_IMAGE_ID` |  | *(required)* |");
    expect(table).toContain("peer-pods-secret). (secret) |");
  });
});
