import fs from "node:fs";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { InvalidConfigError, renderSpecMarkdown } from "../../src/config/index.ts";
import { AWS_DEFAULT_CONFIG } from "../../test/support/aws-default-config.ts";
import { findProvider } from "../index.ts";
import { awsConfigSpec, awsProviderConfig } from "./config.ts";

const base = { PODVM_AMI_ID: "ami-0123456789abcdef0" };

function failure(env: Record<string, string | undefined>): InvalidConfigError {
  try {
    awsProviderConfig(env);
  } catch (err) {
    if (err instanceof InvalidConfigError) return err;
    throw err;
  }
  throw new Error("configuration unexpectedly accepted");
}

const variables = (err: InvalidConfigError) => err.errors.map((e) => ("variable" in e ? e.variable : ""));

describe("AWS provider configuration", () => {
  it("applies upstream's defaults", () => {
    expect(awsProviderConfig(base)).toEqual(AWS_DEFAULT_CONFIG);
  });

  it("reads every setting under its upstream name", () => {
    const c = awsProviderConfig({
      ...base,
      AWS_REGION: "eu-central-1",
      PODVM_INSTANCE_TYPE: "c6a.large",
      PODVM_INSTANCE_TYPES: "c6a.large, m6a.xlarge,c6a.large",
      AWS_SUBNET_ID: "subnet-1",
      AWS_SG_IDS: "sg-1,sg-2",
      SSH_KP_NAME: "ops",
      USE_PUBLIC_IP: "true",
      ROOT_VOLUME_SIZE: "50",
      DISABLECVM: "yes",
      TAGS: "team=infra, cost-center=42",
      AWS_ENDPOINT_URL: "https://all.example",
      AWS_ENDPOINT_URL_EC2: "https://ec2.example",
      AWS_EC2_METADATA_DISABLED: "true",
      AWS_ACCESS_KEY_ID: "AKID",
      AWS_SECRET_ACCESS_KEY: "secret",
      AWS_SESSION_TOKEN: "session",
    });
    expect(c).toMatchObject({
      region: "eu-central-1",
      instanceType: "c6a.large",
      instanceTypes: ["c6a.large", "m6a.xlarge"],
      subnetId: "subnet-1",
      securityGroupIds: ["sg-1", "sg-2"],
      keyName: "ops",
      usePublicIp: true,
      rootVolumeSizeGiB: 50,
      disableCvm: true,
      endpoint: "https://ec2.example",
      imdsEndpoint: undefined,
      credentials: { accessKeyId: "AKID", secretAccessKey: "secret", sessionToken: "session" },
    });
    expect([...c.tags]).toEqual([
      ["team", "infra"],
      ["cost-center", "42"],
    ]);
    expect(awsProviderConfig({ ...base, AWS_ENDPOINT_URL: "http://127.0.0.1:9" }).endpoint).toBe("http://127.0.0.1:9");
  });

  it("fails naming PODVM_AMI_ID when the AMI is missing", () => {
    const err = failure({});
    expect(variables(err)).toEqual(["PODVM_AMI_ID"]);
    expect(err.message).toMatch(/PODVM_AMI_ID: .*the AMI of the peer-pod VM image \(or USE_PODVM_LAUNCHTEMPLATE=true/);
  });

  it("fails naming TAGS for bad syntax, reserved keys and oversized tags", () => {
    expect(failure({ ...base, TAGS: "team=infra,oops" }).message).toMatch(
      /TAGS="team=infra,oops": expected .*"oops" has no "="/,
    );
    expect(failure({ ...base, TAGS: "=x" }).message).toMatch(/TAGS=.*empty key/);
    expect(failure({ ...base, TAGS: "Name=mine" }).message).toMatch(
      /TAGS="Name=mine": expected no key set by the daemon itself .*"Name"/,
    );
    expect(failure({ ...base, TAGS: "peerpods.cluster=other" }).message).toMatch(/TAGS=.*"peerpods\.cluster"/);
    expect(failure({ ...base, TAGS: "aws:cloudformation=x" }).message).toMatch(/TAGS=.*reserved by AWS/);
    expect(failure({ ...base, TAGS: `${"k".repeat(129)}=v` }).message).toMatch(/TAGS=.*at most 128 characters/);
    expect(failure({ ...base, TAGS: `k=${"v".repeat(257)}` }).message).toMatch(/TAGS=.*at most 256 characters/);
  });

  it("names every other bad value at once", () => {
    const syntax = failure({ ...base, ROOT_VOLUME_SIZE: "-1", USE_PUBLIC_IP: "sometimes", AWS_MAX_ATTEMPTS: "0" });
    expect(variables(syntax).sort()).toEqual(["AWS_MAX_ATTEMPTS", "ROOT_VOLUME_SIZE", "USE_PUBLIC_IP"]);
    const meaning = failure({
      ...base,
      AWS_REGION: "Frankfurt",
      AWS_ENDPOINT_URL_EC2: "ec2.local:8080",
      AWS_EC2_METADATA_SERVICE_ENDPOINT: "169.254.169.254",
    });
    expect(variables(meaning).sort()).toEqual([
      "AWS_EC2_METADATA_SERVICE_ENDPOINT",
      "AWS_ENDPOINT_URL_EC2",
      "AWS_REGION",
    ]);
    expect(meaning.message).toContain('AWS_REGION="Frankfurt": expected a region name such as us-east-1');
  });

  it("wants both halves of static keys, and never prints them", () => {
    const err = failure({ ...base, AWS_ACCESS_KEY_ID: "AKIDSECRETVALUE" });
    expect(variables(err)).toEqual(["AWS_SECRET_ACCESS_KEY"]);
    expect(err.message).not.toContain("AKIDSECRETVALUE");
    expect(variables(failure({ ...base, AWS_SESSION_TOKEN: "tok" }))).toEqual(["AWS_SESSION_TOKEN"]);
  });

  it("is what the registry builds for CLOUD_PROVIDER=aws, failing at once on a bad variable", async () => {
    const factory = await findProvider("aws");
    const ctx = { stateDir: "/nonexistent", logger: pino({ level: "silent" }), isRoot: false };
    expect(factory.create({ ...ctx, env: base }).name).toBe("aws");
    expect(() => factory.create({ ...ctx, env: {} })).toThrow(/PODVM_AMI_ID/);
  });

  it("is documented: providers/aws/README.md's table is the spec's", () => {
    const readme = fs.readFileSync(new URL("./README.md", import.meta.url), "utf8");
    expect(readme).toContain(renderSpecMarkdown(awsConfigSpec));
  });
});
