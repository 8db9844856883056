// The daemon on the gcp provider, against the local Compute Engine endpoint over HTTPS (trusted
// through NODE_EXTRA_CA_CERTS, as an operator trusts a private endpoint's CA), whose instances
// are local VMs: a pod's whole life, a SIGKILL right after the insert, capacity fallback, a
// missing permission, throttling ridden out within the deadline. Nothing may be left: no
// instance, no disk.
import fs from "node:fs/promises";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { labelValue } from "../providers/gcp/ownership.ts";
import { Hypervisor } from "../src/gen/hypervisor_pb.js";
import { onHypervisor, runPod } from "../src/hypervisor/shim-driver.ts";
import { Code } from "../src/ttrpc/index.ts";
import { useCloudDaemonHooks } from "./support/daemon-hooks.ts";
import {
  clusterMark,
  type DaemonDirs,
  debugSandboxes,
  makeDaemonDirs,
  type RunningDaemon,
  startDaemon,
} from "./support/daemon-process.ts";
import { FakeGce } from "./support/fake-gce.ts";
import { localVmLauncher } from "./support/fake-gce-local-launcher.ts";
import { metricValue, pollUntil, readyPoolVms } from "./support/warm-pool-probe.ts";

const h = Hypervisor.method;
let dirs: DaemonDirs;
let fake: FakeGce;
let daemon: RunningDaemon | undefined;
let caFile: string;

beforeAll(async () => {
  dirs = await makeDaemonDirs("caa-gcp-");
  fake = await FakeGce.start({
    launcher: localVmLauncher(path.join(dirs.root, "gce-vms"), path.join(dirs.root, "gce-state")),
  });
  caFile = path.join(dirs.root, "google-ca.pem");
  await fs.writeFile(caFile, fake.caPem);
});

useCloudDaemonHooks({
  dirs: () => dirs,
  fake: () => fake,
  daemon: () => daemon,
  afterEachTest: () => fake?.model.denied.clear(),
});

const env = (extra: Record<string, string> = {}) => ({
  ...fake.env(),
  CLOUD_PROVIDER: "gcp",
  NODE_EXTRA_CA_CERTS: caFile,
  GCP_INSTANCE_TYPES: "n2d-standard-2,n2d-standard-4,n2d-standard-8",
  ...extra,
});
const create = (id: string, annotations: Record<string, string> = {}) =>
  onHypervisor(dirs.socketPath, (c) => c.call(h.createVM, { id, annotations, networkNamespacePath: "" }));
const start = (id: string) => onHypervisor(dirs.socketPath, (c) => c.call(h.startVM, { id }, { timeoutMs: 90_000 }));
const stop = (id: string) => onHypervisor(dirs.socketPath, (c) => c.call(h.stopVM, { id }));
const leftovers = () => ({ instances: fake.model.instances.size, disks: fake.model.disks.size });
const none = { instances: 0, disks: 0 };
const inserts = () => fake.requests.filter((r) => r.method === "POST" && r.resource === "instances");

async function waitUntil(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1200; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("cloud-api-adaptor on the gcp provider", () => {
  it("runs a pod's whole life on a Compute Engine instance and deletes instance and disk", async () => {
    daemon = await startDaemon(dirs, env());
    let out = "";
    const status = await runPod({
      socketPath: dirs.socketPath,
      command: ["echo", "from gce"],
      stdout: (c) => (out += Buffer.from(c).toString()),
      stderr: () => {},
    });
    expect({ status, out }).toEqual({ status: 0, out: "from gce\n" });
    await fake.idle();
    expect(leftovers()).toEqual(none);
    expect(daemon.logs()).not.toMatch(/PRIVATE KEY/);
  }, 180_000);

  it("after a SIGKILL right after the insert, the restarted daemon finds the instance and deletes it: never two at once", async () => {
    daemon = await startDaemon(dirs, env());
    const before = inserts().length;
    await create("crash");
    const starting = start("crash");
    await waitUntil(() => inserts().length > before && inserts().at(-1)!.status === 200, "the insert");
    await daemon.kill();
    // peerpod-relay holds the shim's StartVM for the restarted daemon, which rolls the half start
    // back (deleting the instance it finds) and then starts the sandbox anew on one instance.
    daemon = await startDaemon(dirs, env());
    await starting;
    await fake.idle();
    expect(daemon.logs()).toMatch(/"rolledBack":\["crash"\]/);
    expect(await debugSandboxes(daemon.probePort)).toEqual([
      expect.objectContaining({ id: "crash", state: "running" }),
    ]);
    expect(leftovers().instances).toBe(1);
    expect(inserts().length).toBe(before + 2);
    await stop("crash");
    await fake.idle();
    expect(leftovers()).toEqual(none);
  }, 180_000);

  it("falls back to the next machine type when the zone has no capacity, and rides out throttling", async () => {
    daemon = await startDaemon(dirs, env());
    fake.inject({ method: "POST", resource: "instances", action: { kind: "throttle" }, times: 2 });
    fake.inject({
      method: "POST",
      resource: "instances",
      machineType: "n2d-standard-4",
      action: {
        kind: "fail-operation",
        failure: {
          code: "ZONE_RESOURCE_POOL_EXHAUSTED",
          message:
            "The zone 'projects/peerpods-test-1/zones/us-central1-a' does not have enough resources available to fulfill the request.",
          httpStatus: 503,
        },
      },
    });
    fake.inject({
      method: "POST",
      resource: "operations",
      action: { kind: "error", status: 503, reason: "backendError", message: "Backend Error" },
      times: 1,
    });
    await create("roomy", { "io.katacontainers.config.hypervisor.default_vcpus": "3" });
    await start("roomy");
    const types = inserts()
      .slice(-4)
      .map((r) => String(r.body!.machineType).split("/").at(-1));
    expect(types).toEqual(["n2d-standard-4", "n2d-standard-4", "n2d-standard-4", "n2d-standard-8"]);
    expect((await debugSandboxes(daemon.probePort))[0]).toMatchObject({ id: "roomy", state: "running" });
    await stop("roomy");
    await fake.idle();
    expect(leftovers()).toEqual(none);
  }, 180_000);

  it("turns a missing permission into a StartVM error naming it, and leaves nothing", async () => {
    daemon = await startDaemon(dirs, env());
    fake.model.denied.add("compute.instances.create");
    await create("denied");
    const err = await start("denied").catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: Code.UNAVAILABLE,
      statusMessage: expect.stringMatching(/compute\.instances\.create/),
    });
    await stop("denied");
    await fake.idle();
    expect(leftovers()).toEqual(none);
  }, 180_000);

  it("refuses to start with a missing image, naming the variable", async () => {
    await expect(startDaemon(dirs, env({ PODVM_IMAGE_NAME: "no-such-image" }))).rejects.toThrow(
      /PODVM_IMAGE_NAME=projects\/peerpods-test-1\/global\/images\/no-such-image: image not found/,
    );
  }, 180_000);

  it("warm pool: pool instances carry this node's and cluster's labels and the pool's, a pod claims one, a SIGKILLed daemon's successor adopts the rest, WARM_POOL_SIZE=0 deletes them", async () => {
    const poolEnv = env({ WARM_POOL_SIZE: "1" });
    const poolInstances = () =>
      [...fake.model.instances.values()].filter(
        (i) => (i.labels as Record<string, string> | undefined)?.["peerpods-sandbox-id"] === labelValue("_warm-pool"),
      );
    daemon = await startDaemon(dirs, poolEnv);
    const d1 = daemon;
    await pollUntil(
      "a ready pool VM",
      () => readyPoolVms(d1),
      (r) => r.length === 1,
      d1,
    );
    expect(poolInstances().map((i) => i.labels)).toEqual([
      expect.objectContaining({
        "peerpods-sandbox-id": labelValue("_warm-pool"),
        "peerpods-node": labelValue("test-node"),
        "peerpods-cluster": labelValue(await clusterMark(dirs)),
      }),
    ]);
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
      (r) => r.length === 1,
      d1,
    );
    const kept = poolInstances().map((i) => i.name);
    const insertsBefore = inserts().length;
    await daemon.kill(); // a crash: the pool instance keeps running
    daemon = await startDaemon(dirs, poolEnv);
    const d2 = daemon;
    await pollUntil(
      "adopted",
      () => readyPoolVms(d2),
      (r) => r.length === 1,
      d2,
    );
    expect(poolInstances().map((i) => i.name)).toEqual(kept); // adopted, not made anew
    expect(inserts().length).toBe(insertsBefore);
    await daemon.stop();
    daemon = await startDaemon(dirs, env({ WARM_POOL_SIZE: "0" }));
    await pollUntil(
      "deleted",
      async () => {
        await fake.idle();
        return leftovers();
      },
      (l) => l.instances + l.disks === 0,
      daemon,
    );
  }, 300_000);
});
