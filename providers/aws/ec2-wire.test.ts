// The fake EC2 endpoint the AWS tests rely on answers as EC2 does, on the wire and through the
// real SDK, so a provider that passes against it speaks EC2's protocol.
import {
  DescribeInstancesCommand,
  DescribeInstanceTypesCommand,
  EC2Client,
  RunInstancesCommand,
} from "@aws-sdk/client-ec2";
import { afterEach, describe, expect, it } from "vitest";
import { FAKE_AMI, FakeEc2 } from "../../test/support/fake-ec2.ts";
import { EC2_XMLNS } from "../../test/support/fake-ec2-wire.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function start(): Promise<{ fake: FakeEc2; client: EC2Client }> {
  const fake = await FakeEc2.start();
  cleanups.push(() => fake.close());
  const client = new EC2Client({
    region: fake.region,
    endpoint: fake.endpoint,
    credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" },
    maxAttempts: 1,
  });
  cleanups.push(() => client.destroy());
  return { fake, client };
}

async function post(fake: FakeEc2, body: string, authorization?: string): Promise<{ status: number; text: string }> {
  const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded" };
  if (authorization !== undefined) headers.authorization = authorization;
  const res = await fetch(`${fake.endpoint}/`, { method: "POST", headers, body });
  return { status: res.status, text: await res.text() };
}

const SIGNED =
  "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=00";

describe("fake EC2 endpoint", () => {
  it("answers in EC2's XML: a <ActionResponse> root in the 2016-11-15 namespace with a requestId", async () => {
    const { fake } = await start();
    const res = await post(fake, "Action=DescribeInstanceTypes&Version=2016-11-15&InstanceType.1=m6a.large", SIGNED);
    expect(res.status).toBe(200);
    expect(res.text).toMatch(
      new RegExp(
        `^<\\?xml version="1.0" encoding="UTF-8"\\?>\\n<DescribeInstanceTypesResponse xmlns="${EC2_XMLNS}"><requestId>[0-9a-f-]{36}</requestId><instanceTypeSet><item><instanceType>m6a.large</instanceType>`,
      ),
    );
  });

  it("answers errors as EC2 does: <Response><Errors><Error> with Code, Message and RequestID, and EC2's statuses", async () => {
    const { fake } = await start();
    const unsigned = await post(fake, "Action=DescribeInstances&Version=2016-11-15");
    expect(unsigned.status).toBe(401);
    expect(unsigned.text).toMatch(
      /<Response><Errors><Error><Code>AuthFailure<\/Code><Message>[^<]+<\/Message><\/Error><\/Errors><RequestID>[0-9a-f-]{36}<\/RequestID><\/Response>$/,
    );
    expect((await post(fake, "Action=Frobnicate&Version=2016-11-15", SIGNED)).text).toContain(
      "<Code>InvalidAction</Code>",
    );
    fake.inject("DescribeInstances", { kind: "throttle" });
    const throttled = await post(fake, "Action=DescribeInstances&Version=2016-11-15", SIGNED);
    expect([throttled.status, /<Code>(\w+)<\/Code>/.exec(throttled.text)?.[1]]).toEqual([503, "RequestLimitExceeded"]);
  });

  it("is parsed by the real SDK, nested lists and numbers included", async () => {
    const { client } = await start();
    const out = await client.send(new DescribeInstanceTypesCommand({ InstanceTypes: ["g5.xlarge", "m6a.large"] }));
    expect(
      out.InstanceTypes?.map((t) => [
        t.InstanceType,
        t.VCpuInfo?.DefaultVCpus,
        t.MemoryInfo?.SizeInMiB,
        t.GpuInfo?.Gpus?.[0]?.Count,
        t.ProcessorInfo?.SupportedFeatures,
      ]),
    ).toEqual([
      ["m6a.large", 2, 8192, undefined, ["amd-sev-snp"]],
      ["g5.xlarge", 4, 16384, 1, undefined],
    ]);
  });

  it("refuses a client token reused with other parameters, and a pagination token it did not give", async () => {
    const { client } = await start();
    const launch = {
      ImageId: FAKE_AMI,
      InstanceType: "m6a.large" as const,
      MinCount: 1,
      MaxCount: 1,
      ClientToken: "tok-1",
    };
    const first = await client.send(new RunInstancesCommand(launch));
    expect(first.Instances?.[0]?.State?.Name).toBe("pending");
    await expect(client.send(new RunInstancesCommand({ ...launch, InstanceType: "c6a.large" }))).rejects.toMatchObject({
      name: "IdempotentParameterMismatch",
      $metadata: { httpStatusCode: 400 },
    });
    await expect(
      client.send(new DescribeInstancesCommand({ MaxResults: 5, NextToken: "forged" })),
    ).rejects.toMatchObject({ name: "InvalidPaginationToken" });
    await expect(
      client.send(new DescribeInstancesCommand({ InstanceIds: ["i-0123456789abcdef0"] })),
    ).rejects.toMatchObject({
      name: "InvalidInstanceID.NotFound",
      message: "The instance ID 'i-0123456789abcdef0' does not exist",
    });
  });
});
