// The daemon on the aws provider, against the local EC2 endpoint whose instances are local
// VMs (forwarder and agent really answer): a pod's whole life, a crash right after
// RunInstances, and injected faults. Nothing may be left running that no sandbox owns.
import path from "node:path";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { POOL_VM_NAME_PATTERN } from "../src/pool/index.ts";
import { Code } from "../src/ttrpc/index.ts";
import { awsEnv, createLaunchTemplate } from "./support/aws-fixture.ts";
import { useCloudDaemonBed } from "./support/cloud-daemon-bed.ts";
import { clusterMark, debugSandboxes, startDaemon } from "./support/daemon-process.ts";
import { FAKE_AMI, FAKE_SG, FAKE_SUBNET, FakeEc2 } from "./support/fake-ec2.ts";
import { localVmLauncher } from "./support/fake-ec2-local-launcher.ts";
import { echoPod, hypervisorCalls } from "./support/hypervisor-calls.ts";
import { runWarmPoolScenario } from "./support/warm-pool-scenario.ts";

const bed = useCloudDaemonBed({
  dirsPrefix: "caa-aws-",
  startFake: (root) =>
    FakeEc2.start({
      launcher: localVmLauncher(path.join(root, "instances"), pino({ level: "silent" })),
      bootDelayMs: 100,
    }),
});

function env(): Record<string, string> {
  const e = { ...awsEnv(bed.fake), AWS_MAX_ATTEMPTS: "3" };
  return Object.fromEntries(Object.entries(e).filter((kv): kv is [string, string] => kv[1] !== undefined));
}

/** Instances still costing money once terminations in flight have had time to finish
 * (EC2 shows shutting-down for a moment before terminated). */
async function liveAfterShutdown() {
  await bed.fake.settle();
  for (let i = 0; i < 200 && bed.fake.liveInstances().some((x) => x.state === "shutting-down"); i++)
    await new Promise((r) => setTimeout(r, 25));
  return bed.fake.liveInstances();
}

const { create, start, startDying, stop } = hypervisorCalls(() => bed.dirs.socketPath, {
  startMs: 60_000,
  dyingMs: 15_000,
});

describe("cloud-api-adaptor on the aws provider", () => {
  it("runs a pod's whole life on an EC2 instance and terminates it", async () => {
    bed.daemon = await startDaemon(bed.dirs, { ...env(), CLOUD_PROVIDER: "aws" });
    expect(await echoPod(bed.dirs.socketPath, ["from ec2"])).toEqual({ status: 0, out: "from ec2\n" });
    const run = bed.fake.calls("RunInstances");
    expect(run.length).toBeGreaterThan(0);
    expect(await liveAfterShutdown()).toEqual([]);
    expect(bed.daemon.logs()).not.toContain(env().AWS_SECRET_ACCESS_KEY);
    expect(bed.daemon.logs()).not.toMatch(/PRIVATE KEY/);
  });

  it("after a SIGKILL right after RunInstances, the restarted daemon terminates the instance", async () => {
    bed.daemon = await startDaemon(bed.dirs, { ...env(), CLOUD_PROVIDER: "aws" });
    bed.fake.stickPending(1);
    await create("crash");
    const launched = () => bed.fake.calls("RunInstances").filter((c) => c.status === 200).length;
    const before = launched();
    const starting = startDying("crash");
    for (let i = 0; i < 400 && launched() === before; i++) await new Promise((r) => setTimeout(r, 25));
    expect(launched()).toBe(before + 1);
    await bed.daemon.kill();
    // No control plane: peerpod-relay holds the shim's StartVM until its deadline, then fails it.
    expect(await starting).toMatchObject({ code: Code.DEADLINE_EXCEEDED });
    expect(bed.fake.liveInstances()).toHaveLength(1);
    bed.daemon = await startDaemon(bed.dirs, { ...env(), CLOUD_PROVIDER: "aws" });
    expect(await liveAfterShutdown()).toEqual([]);
    expect(await debugSandboxes(bed.daemon.probePort)).toEqual([
      expect.objectContaining({ id: "crash", state: "failed" }),
    ]);
    await stop("crash");
  });

  it("warm pool: pool instances carry this node's and cluster's tags and the pool's, a pod claims one, a SIGKILLed daemon's successor adopts the rest, WARM_POOL_SIZE=0 terminates them", async () => {
    const poolInstances = () =>
      bed.fake.liveInstances().filter((i) => i.tags["peerpods.sandbox-id"] === "_warm-pool" && i.state === "running");
    await runWarmPoolScenario({
      dirs: bed.dirs,
      size: 2,
      env: (size) => ({ ...env(), CLOUD_PROVIDER: "aws", WARM_POOL_SIZE: String(size) }),
      started: (d) => (bed.daemon = d),
      poolVms: () => poolInstances().map((i) => i.id),
      checkPool: async () => {
        const first = poolInstances();
        expect(first).toHaveLength(2);
        for (const i of first)
          expect(i.tags).toMatchObject({
            "peerpods.sandbox-id": "_warm-pool",
            "peerpods.node": "test-node",
            "peerpods.cluster": await clusterMark(bed.dirs),
            Name: expect.stringMatching(POOL_VM_NAME_PATTERN),
          });
      },
      launches: () => bed.fake.calls("RunInstances").filter((c) => c.status === 200).length, // not the start-up check's dry run
      leftovers: liveAfterShutdown,
      nothingLeft: (l) => l.length === 0,
    });
  }, 300_000);

  it("turns a refused RunInstances into a clear StartVM error and leaves nothing running", async () => {
    bed.daemon = await startDaemon(bed.dirs, { ...env(), CLOUD_PROVIDER: "aws" });
    bed.fake.inject("RunInstances", { kind: "unauthorized" }, 10);
    await create("denied");
    const err = await start("denied").catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: Code.UNAVAILABLE,
      statusMessage: expect.stringMatching(/UnauthorizedOperation|not authorized/i),
    });
    await stop("denied");
    expect(await liveAfterShutdown()).toEqual([]);
  });

  it("rides out throttling and server errors with the SDK's retries", async () => {
    bed.daemon = await startDaemon(bed.dirs, { ...env(), CLOUD_PROVIDER: "aws" });
    bed.fake.inject("RunInstances", { kind: "throttle" }, 1);
    bed.fake.inject("DescribeInstances", { kind: "internal", status: 500 }, 1);
    await create("bumpy");
    await start("bumpy");
    expect((await debugSandboxes(bed.daemon.probePort))[0]).toMatchObject({ id: "bumpy", state: "running" });
    await stop("bumpy");
    expect(await liveAfterShutdown()).toEqual([]);
  });

  it("runs a pod on an instance launched from the launch template of an upstream ConfigMap", async () => {
    await createLaunchTemplate(bed.fake, "kata", {
      ImageId: FAKE_AMI,
      InstanceType: "c6a.large",
      NetworkInterfaces: [{ DeviceIndex: 0, SubnetId: FAKE_SUBNET, Groups: [FAKE_SG] }],
      CpuOptions: { AmdSevSnp: "enabled" },
    });
    const e: Record<string, string> = { ...env(), CLOUD_PROVIDER: "aws", USE_PODVM_LAUNCHTEMPLATE: "true" };
    for (const k of ["PODVM_AMI_ID", "AWS_SUBNET_ID", "AWS_SG_IDS"]) delete e[k];
    bed.daemon = await startDaemon(bed.dirs, e);
    const before = new Set(bed.fake.instances().map((i) => i.id));
    expect(await echoPod(bed.dirs.socketPath, ["from a launch template"])).toEqual({
      status: 0,
      out: "from a launch template\n",
    });
    const launched = bed.fake.instances().filter((i) => !before.has(i.id));
    expect(launched.map((i) => [i.launchTemplate, i.type, i.imageId, i.httpTokens])).toEqual([
      ["kata", "c6a.large", FAKE_AMI, "required"],
    ]);
    expect(await liveAfterShutdown()).toEqual([]);
  });

  it("refuses to start when the launch template does not exist, naming PODVM_LAUNCHTEMPLATE_NAME", async () => {
    const e = { ...env(), CLOUD_PROVIDER: "aws", USE_PODVM_LAUNCHTEMPLATE: "true", PODVM_LAUNCHTEMPLATE_NAME: "gone" };
    await expect(startDaemon(bed.dirs, e)).rejects.toThrow(
      /PODVM_LAUNCHTEMPLATE_NAME=gone: InvalidLaunchTemplateName\.NotFoundException/,
    );
  });

  it("refuses to start with a missing AMI, naming the variable", async () => {
    const e = env();
    delete e.PODVM_AMI_ID;
    await expect(startDaemon(bed.dirs, { ...e, CLOUD_PROVIDER: "aws" })).rejects.toThrow(/PODVM_AMI_ID/);
  });
});
