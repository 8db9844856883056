import { generateKeyPairSync } from "node:crypto";
import fs from "node:fs";
import { describe, expect, it } from "vitest";
import { InvalidConfigError, renderSpecMarkdown } from "../../src/config/index.ts";
import { gcpConfigSpec, gcpProviderConfig, parseComputeEndpoint } from "./config.ts";

const PEM = generateKeyPairSync("rsa", { modulusLength: 2048 })
  .privateKey.export({ type: "pkcs8", format: "pem" })
  .toString();
const KEY = (o: Record<string, unknown> = {}) =>
  JSON.stringify({
    type: "service_account",
    project_id: "p",
    private_key_id: "k1",
    private_key: PEM,
    client_email: "sa@proj-123.iam.gserviceaccount.com",
    token_uri: "https://oauth2.example.test/token",
    ...o,
  });
const BASE: Record<string, string> = {
  GCP_PROJECT_ID: "proj-123",
  GCP_ZONE: "europe-west4-b",
  PODVM_IMAGE_NAME: "podvm-v1",
  GCP_CONFIDENTIAL_TYPE: "SEV",
};

function problems(env: Record<string, string | undefined>): { variables: string[]; message: string } {
  try {
    gcpProviderConfig(env);
  } catch (err) {
    if (!(err instanceof InvalidConfigError)) throw err;
    return { variables: err.errors.map((e) => ("variable" in e ? e.variable : "")), message: err.message };
  }
  throw new Error("configuration loaded although it should not");
}

describe("GCP provider configuration", () => {
  it("loads the upstream variables with their defaults", () => {
    const c = gcpProviderConfig(BASE);
    expect(c).toMatchObject({
      projectId: "proj-123",
      zone: "europe-west4-b",
      region: "europe-west4",
      network: "projects/proj-123/global/networks/default",
      subnetwork: undefined,
      image: { kind: "image", project: "proj-123", name: "podvm-v1", path: "projects/proj-123/global/images/podvm-v1" },
      machineType: "e2-medium",
      diskType: "pd-standard",
      rootVolumeSizeGiB: undefined,
      confidentialType: "SEV",
      usePublicIp: false,
      serviceAccountKey: undefined,
      endpoint: { protocol: "https", host: "compute.googleapis.com", port: 443 },
    });
  });

  it("takes qualified names, a subnetwork in the zone's region, image families and a key with its token_uri", () => {
    const c = gcpProviderConfig({
      ...BASE,
      GCP_NETWORK: "projects/host-proj/global/networks/shared",
      GCP_SUBNETWORK: "workers",
      PODVM_IMAGE_NAME: "https://www.googleapis.com/compute/v1/projects/img-proj/global/images/family/podvm",
      GCP_CREDENTIALS: KEY(),
      GCP_COMPUTE_ENDPOINT: "https://compute-psc.p.googleapis.com:8443",
      DISABLECVM: "true",
      TAGS: "team=platform,cost-center=4711",
    });
    expect(c.network).toBe("projects/host-proj/global/networks/shared");
    expect(c.subnetwork).toBe("projects/proj-123/regions/europe-west4/subnetworks/workers");
    expect(c.image).toEqual({
      kind: "family",
      project: "img-proj",
      family: "podvm",
      path: "projects/img-proj/global/images/family/podvm",
    });
    expect(c.serviceAccountKey).toMatchObject({
      clientEmail: "sa@proj-123.iam.gserviceaccount.com",
      tokenUri: "https://oauth2.example.test/token",
    });
    expect(c.endpoint).toMatchObject({ protocol: "https", host: "compute-psc.p.googleapis.com", port: 8443 });
    expect(c.confidentialType).toBeUndefined();
    expect([...c.labels]).toEqual([
      ["team", "platform"],
      ["cost-center", "4711"],
    ]);
  });

  it("reports every bad value at once, never the key", () => {
    const { variables, message } = problems({
      GCP_PROJECT_ID: "Proj_1",
      GCP_ZONE: "europe-west4",
      PODVM_IMAGE_NAME: "projects/x/images/y",
      GCP_SUBNETWORK: "projects/proj-123/regions/us-east1/subnetworks/s",
      GCP_CREDENTIALS: KEY({ private_key: "not a key" }),
      GCP_COMPUTE_ENDPOINT: "http://compute.internal/compute/v1",
      TAGS: "peerpods-node=x,Bad=1",
      ROOT_VOLUME_SIZE: "5",
    });
    expect(variables).toEqual(
      expect.arrayContaining([
        "GCP_PROJECT_ID",
        "GCP_ZONE",
        "PODVM_IMAGE_NAME",
        "GCP_CREDENTIALS",
        "GCP_COMPUTE_ENDPOINT",
        "TAGS",
        "ROOT_VOLUME_SIZE",
        "GCP_CONFIDENTIAL_TYPE",
      ]),
    );
    expect(message).not.toContain("not a key");
    expect(message).toContain("GCP_CREDENTIALS=<redacted>");
  });

  it("requires a confidential type unless DISABLECVM, and a service-account key", () => {
    const { message } = problems({
      ...BASE,
      GCP_CONFIDENTIAL_TYPE: undefined,
      GCP_CREDENTIALS: KEY({ type: "authorized_user" }),
    });
    expect(message).toMatch(/GCP_CONFIDENTIAL_TYPE: required unless DISABLECVM=true/);
    expect(message).toMatch(/GCP_CREDENTIALS=<redacted>: expected a key of type "service_account"/);
    expect(problems({ ...BASE, GCP_CREDENTIALS: KEY({ token_uri: "http://plain.example/token" }) }).message).toMatch(
      /token_uri is an https:\/\/ URL/,
    );
  });

  it("splits GCP_COMPUTE_ENDPOINT into host, port and protocol", () => {
    expect(parseComputeEndpoint("https://127.0.0.1:9443")).toMatchObject({
      protocol: "https",
      host: "127.0.0.1",
      port: 9443,
    });
    expect(parseComputeEndpoint("https://[::1]:9443/")).toMatchObject({ host: "::1", port: 9443 });
    expect(parseComputeEndpoint("https://compute.googleapis.com/compute/v1")).toBeUndefined();
    expect(parseComputeEndpoint("https://user:pw@compute.googleapis.com")).toBeUndefined();
  });

  it("is documented by providers/gcp/README.md, kept in step with the spec", () => {
    const table = renderSpecMarkdown(gcpConfigSpec);
    expect(fs.readFileSync(new URL("./README.md", import.meta.url), "utf8")).toContain(table);
    expect(table).toContain("| `GCP_CREDENTIALS` |");
  });
});
