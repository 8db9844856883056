// The daemon on the aws provider, against the local EC2 endpoint whose instances are local
// VMs (forwarder and agent really answer): a pod's whole life, a crash right after
// RunInstances, and injected faults. Nothing may be left running that no sandbox owns.
import path from "node:path";
import pino from "pino";
import { beforeAll, describe, expect, it } from "vitest";
import { Hypervisor } from "../src/gen/hypervisor_pb.js";
import { onHypervisor, runPod } from "../src/hypervisor/shim-driver.ts";
import { POOL_VM_NAME_PATTERN } from "../src/pool/index.ts";
import { Code } from "../src/ttrpc/index.ts";
import { awsEnv, createLaunchTemplate } from "./support/aws-fixture.ts";
import { useCloudDaemonHooks } from "./support/daemon-hooks.ts";
import {
  clusterMark,
  type DaemonDirs,
  debugSandboxes,
  makeDaemonDirs,
  type RunningDaemon,
  startDaemon,
} from "./support/daemon-process.ts";
import { FAKE_AMI, FAKE_SG, FAKE_SUBNET, FakeEc2 } from "./support/fake-ec2.ts";
import { localVmLauncher } from "./support/fake-ec2-local-launcher.ts";
import { metricValue, pollUntil, readyPoolVms } from "./support/warm-pool-probe.ts";

const h = Hypervisor.method;
let dirs: DaemonDirs;
let fake: FakeEc2;
let daemon: RunningDaemon | undefined;

function env(): Record<string, string> {
  const e = { ...awsEnv(fake), AWS_MAX_ATTEMPTS: "3" };
  return Object.fromEntries(Object.entries(e).filter((kv): kv is [string, string] => kv[1] !== undefined));
}

beforeAll(async () => {
  dirs = await makeDaemonDirs("caa-aws-");
  fake = await FakeEc2.start({
    launcher: localVmLauncher(path.join(dirs.root, "instances"), pino({ level: "silent" })),
    bootDelayMs: 100,
  });
});

useCloudDaemonHooks({ dirs: () => dirs, fake: () => fake, daemon: () => daemon });

/** Instances still costing money once terminations in flight have had time to finish
 * (EC2 shows shutting-down for a moment before terminated). */
async function liveAfterShutdown() {
  await fake.settle();
  for (let i = 0; i < 200 && fake.liveInstances().some((x) => x.state === "shutting-down"); i++)
    await new Promise((r) => setTimeout(r, 25));
  return fake.liveInstances();
}

const create = (id: string) =>
  onHypervisor(dirs.socketPath, (c) => c.call(h.createVM, { id, annotations: {}, networkNamespacePath: "" }));
const start = (id: string) => onHypervisor(dirs.socketPath, (c) => c.call(h.startVM, { id }, { timeoutMs: 60_000 }));
// A StartVM the daemon dies in: the relay holds it while no daemon is there, until its deadline.
const startDying = (id: string) =>
  onHypervisor(dirs.socketPath, (c) => c.call(h.startVM, { id }, { timeoutMs: 15_000 })).catch((e: unknown) => e);
const stop = (id: string) => onHypervisor(dirs.socketPath, (c) => c.call(h.stopVM, { id }));

describe("cloud-api-adaptor on the aws provider", () => {
  it("runs a pod's whole life on an EC2 instance and terminates it", async () => {
    daemon = await startDaemon(dirs, { ...env(), CLOUD_PROVIDER: "aws" });
    let out = "";
    const status = await runPod({
      socketPath: dirs.socketPath,
      command: ["echo", "from ec2"],
      stdout: (c) => (out += Buffer.from(c).toString()),
      stderr: () => {},
    });
    expect({ status, out }).toEqual({ status: 0, out: "from ec2\n" });
    const run = fake.calls("RunInstances");
    expect(run.length).toBeGreaterThan(0);
    expect(await liveAfterShutdown()).toEqual([]);
    expect(daemon.logs()).not.toContain(env().AWS_SECRET_ACCESS_KEY);
    expect(daemon.logs()).not.toMatch(/PRIVATE KEY/);
  });

  it("after a SIGKILL right after RunInstances, the restarted daemon terminates the instance", async () => {
    daemon = await startDaemon(dirs, { ...env(), CLOUD_PROVIDER: "aws" });
    fake.stickPending(1);
    await create("crash");
    const launched = () => fake.calls("RunInstances").filter((c) => c.status === 200).length;
    const before = launched();
    const starting = startDying("crash");
    for (let i = 0; i < 400 && launched() === before; i++) await new Promise((r) => setTimeout(r, 25));
    expect(launched()).toBe(before + 1);
    await daemon.kill();
    // No control plane: peerpod-relay holds the shim's StartVM until its deadline, then fails it.
    expect(await starting).toMatchObject({ code: Code.DEADLINE_EXCEEDED });
    expect(fake.liveInstances()).toHaveLength(1);
    daemon = await startDaemon(dirs, { ...env(), CLOUD_PROVIDER: "aws" });
    expect(await liveAfterShutdown()).toEqual([]);
    expect(await debugSandboxes(daemon.probePort)).toEqual([expect.objectContaining({ id: "crash", state: "failed" })]);
    await stop("crash");
  });

  it("warm pool: pool instances carry this node's and cluster's tags and the pool's, a pod claims one, a SIGKILLed daemon's successor adopts the rest, WARM_POOL_SIZE=0 terminates them", async () => {
    const poolEnv = { ...env(), CLOUD_PROVIDER: "aws", WARM_POOL_SIZE: "2" };
    const poolInstances = () =>
      fake.liveInstances().filter((i) => i.tags["peerpods.sandbox-id"] === "_warm-pool" && i.state === "running");
    daemon = await startDaemon(dirs, poolEnv);
    const d1 = daemon;
    await pollUntil(
      "two ready pool VMs",
      () => readyPoolVms(d1),
      (r) => r.length === 2,
      d1,
    );
    const first = poolInstances();
    expect(first).toHaveLength(2);
    for (const i of first)
      expect(i.tags).toMatchObject({
        "peerpods.sandbox-id": "_warm-pool",
        "peerpods.node": "test-node",
        "peerpods.cluster": await clusterMark(dirs),
        Name: expect.stringMatching(POOL_VM_NAME_PATTERN),
      });
    let out = "";
    const status = await runPod({
      socketPath: dirs.socketPath,
      command: ["echo", "warm"],
      stdout: (c) => (out += Buffer.from(c).toString()),
      stderr: () => {},
    });
    expect({ status, out }).toEqual({ status: 0, out: "warm\n" });
    expect(await metricValue(d1, "caa_warm_pool_claims_total")).toBe(1);
    await pollUntil(
      "refilled",
      () => readyPoolVms(d1),
      (r) => r.length === 2,
      d1,
    );
    const beforeRestart = poolInstances()
      .map((i) => i.id)
      .sort();
    const launches = () => fake.calls("RunInstances").filter((c) => c.status === 200).length; // not the start-up check's dry run
    const launchesBefore = launches();
    await daemon.kill(); // a crash: the pool instances keep running
    daemon = await startDaemon(dirs, poolEnv);
    const d2 = daemon;
    await pollUntil(
      "adopted",
      () => readyPoolVms(d2),
      (r) => r.length === 2,
      d2,
    );
    // Adopted as they were: none terminated, none launched anew.
    expect(
      poolInstances()
        .map((i) => i.id)
        .sort(),
    ).toEqual(beforeRestart);
    expect(launches()).toBe(launchesBefore);
    await daemon.stop();
    daemon = await startDaemon(dirs, { ...poolEnv, WARM_POOL_SIZE: "0" });
    await pollUntil(
      "terminated",
      () => liveAfterShutdown(),
      (l) => l.length === 0,
      daemon,
    );
  }, 300_000);

  it("turns a refused RunInstances into a clear StartVM error and leaves nothing running", async () => {
    daemon = await startDaemon(dirs, { ...env(), CLOUD_PROVIDER: "aws" });
    fake.inject("RunInstances", { kind: "unauthorized" }, 10);
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
    daemon = await startDaemon(dirs, { ...env(), CLOUD_PROVIDER: "aws" });
    fake.inject("RunInstances", { kind: "throttle" }, 1);
    fake.inject("DescribeInstances", { kind: "internal", status: 500 }, 1);
    await create("bumpy");
    await start("bumpy");
    expect((await debugSandboxes(daemon.probePort))[0]).toMatchObject({ id: "bumpy", state: "running" });
    await stop("bumpy");
    expect(await liveAfterShutdown()).toEqual([]);
  });

  it("runs a pod on an instance launched from the launch template of an upstream ConfigMap", async () => {
    await createLaunchTemplate(fake, "kata", {
      ImageId: FAKE_AMI,
      InstanceType: "c6a.large",
      NetworkInterfaces: [{ DeviceIndex: 0, SubnetId: FAKE_SUBNET, Groups: [FAKE_SG] }],
      CpuOptions: { AmdSevSnp: "enabled" },
    });
    const e: Record<string, string> = { ...env(), CLOUD_PROVIDER: "aws", USE_PODVM_LAUNCHTEMPLATE: "true" };
    for (const k of ["PODVM_AMI_ID", "AWS_SUBNET_ID", "AWS_SG_IDS"]) delete e[k];
    daemon = await startDaemon(dirs, e);
    const before = new Set(fake.instances().map((i) => i.id));
    let out = "";
    const status = await runPod({
      socketPath: dirs.socketPath,
      command: ["echo", "from a launch template"],
      stdout: (c) => (out += Buffer.from(c).toString()),
      stderr: () => {},
    });
    expect({ status, out }).toEqual({ status: 0, out: "from a launch template\n" });
    const launched = fake.instances().filter((i) => !before.has(i.id));
    expect(launched.map((i) => [i.launchTemplate, i.type, i.imageId, i.httpTokens])).toEqual([
      ["kata", "c6a.large", FAKE_AMI, "required"],
    ]);
    expect(await liveAfterShutdown()).toEqual([]);
  });

  it("refuses to start when the launch template does not exist, naming PODVM_LAUNCHTEMPLATE_NAME", async () => {
    const e = { ...env(), CLOUD_PROVIDER: "aws", USE_PODVM_LAUNCHTEMPLATE: "true", PODVM_LAUNCHTEMPLATE_NAME: "gone" };
    await expect(startDaemon(dirs, e)).rejects.toThrow(
      /PODVM_LAUNCHTEMPLATE_NAME=gone: InvalidLaunchTemplateName\.NotFoundException/,
    );
  });

  it("refuses to start with a missing AMI, naming the variable", async () => {
    const e = env();
    delete e.PODVM_AMI_ID;
    await expect(startDaemon(dirs, { ...e, CLOUD_PROVIDER: "aws" })).rejects.toThrow(/PODVM_AMI_ID/);
  });
});
