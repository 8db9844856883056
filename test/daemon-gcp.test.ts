// The daemon on the gcp provider, against the local Compute Engine endpoint over HTTPS (trusted
// through NODE_EXTRA_CA_CERTS, as an operator trusts a private endpoint's CA), whose instances
// are local VMs: a pod's whole life, a SIGKILL right after the insert, capacity fallback, a
// missing permission, throttling ridden out within the deadline. Nothing may be left: no
// instance, no disk.
import fs from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { labelValue } from "../providers/gcp/ownership.ts";
import { Code } from "../src/ttrpc/index.ts";
import { useCloudDaemonBed } from "./support/cloud-daemon-bed.ts";
import { clusterMark, debugSandboxes, startDaemon } from "./support/daemon-process.ts";
import { FakeGce } from "./support/fake-gce.ts";
import { localVmLauncher } from "./support/fake-gce-local-launcher.ts";
import { echoPod, hypervisorCalls } from "./support/hypervisor-calls.ts";
import { pollUntil } from "./support/warm-pool-probe.ts";
import { runWarmPoolScenario } from "./support/warm-pool-scenario.ts";

const bed = useCloudDaemonBed({
  dirsPrefix: "caa-gcp-",
  startFake: (root) =>
    FakeGce.start({ launcher: localVmLauncher(path.join(root, "gce-vms"), path.join(root, "gce-state")) }),
  caFileName: "google-ca.pem",
  afterEachTest: (fake) => fake.model.denied.clear(),
});

const env = (extra: Record<string, string> = {}) => ({
  ...bed.fake.env(),
  CLOUD_PROVIDER: "gcp",
  NODE_EXTRA_CA_CERTS: bed.caFile,
  GCP_INSTANCE_TYPES: "n2d-standard-2,n2d-standard-4,n2d-standard-8",
  ...extra,
});
const { create, start, stop } = hypervisorCalls(() => bed.dirs.socketPath, { startMs: 90_000 });
const leftovers = () => ({ instances: bed.fake.model.instances.size, disks: bed.fake.model.disks.size });
const none = { instances: 0, disks: 0 };
const inserts = () => bed.fake.requests.filter((r) => r.method === "POST" && r.resource === "instances");

/** Waits for a crash point, looking often: the test kills the daemon right there. */
const waitUntil = (cond: () => boolean, what: string) => pollUntil(what, cond, (v) => v, bed.daemon, 30_000, 25);

describe("cloud-api-adaptor on the gcp provider", () => {
  it("runs a pod's whole life on a Compute Engine instance and deletes instance and disk", async () => {
    bed.daemon = await startDaemon(bed.dirs, env());
    expect(await echoPod(bed.dirs.socketPath, ["from gce"])).toEqual({ status: 0, out: "from gce\n" });
    await bed.fake.idle();
    expect(leftovers()).toEqual(none);
    expect(bed.daemon.logs()).not.toMatch(/PRIVATE KEY/);
  }, 180_000);

  it("after a SIGKILL right after the insert, the restarted daemon finds the instance and deletes it: never two at once", async () => {
    bed.daemon = await startDaemon(bed.dirs, env());
    const before = inserts().length;
    await create("crash");
    const starting = start("crash");
    await waitUntil(() => inserts().length > before && inserts().at(-1)!.status === 200, "the insert");
    await bed.daemon.kill();
    // peerpod-relay holds the shim's StartVM for the restarted daemon, which rolls the half start
    // back (deleting the instance it finds) and then starts the sandbox anew on one instance.
    bed.daemon = await startDaemon(bed.dirs, env());
    await starting;
    await bed.fake.idle();
    expect(bed.daemon.logs()).toMatch(/"rolledBack":\["crash"\]/);
    expect(await debugSandboxes(bed.daemon.probePort)).toEqual([
      expect.objectContaining({ id: "crash", state: "running" }),
    ]);
    expect(leftovers().instances).toBe(1);
    expect(inserts().length).toBe(before + 2);
    await stop("crash");
    await bed.fake.idle();
    expect(leftovers()).toEqual(none);
  }, 180_000);

  it("falls back to the next machine type when the zone has no capacity, and rides out throttling", async () => {
    bed.daemon = await startDaemon(bed.dirs, env());
    bed.fake.inject({ method: "POST", resource: "instances", action: { kind: "throttle" }, times: 2 });
    bed.fake.inject({
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
    bed.fake.inject({
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
    expect((await debugSandboxes(bed.daemon.probePort))[0]).toMatchObject({ id: "roomy", state: "running" });
    await stop("roomy");
    await bed.fake.idle();
    expect(leftovers()).toEqual(none);
  }, 180_000);

  it("turns a missing permission into a StartVM error naming it, and leaves nothing", async () => {
    bed.daemon = await startDaemon(bed.dirs, env());
    bed.fake.model.denied.add("compute.instances.create");
    await create("denied");
    const err = await start("denied").catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: Code.UNAVAILABLE,
      statusMessage: expect.stringMatching(/compute\.instances\.create/),
    });
    await stop("denied");
    await bed.fake.idle();
    expect(leftovers()).toEqual(none);
  }, 180_000);

  it("refuses to start with a missing image, naming the variable", async () => {
    await expect(startDaemon(bed.dirs, env({ PODVM_IMAGE_NAME: "no-such-image" }))).rejects.toThrow(
      /PODVM_IMAGE_NAME=projects\/peerpods-test-1\/global\/images\/no-such-image: image not found/,
    );
  }, 180_000);

  it("warm pool: pool instances carry this node's and cluster's labels and the pool's, a pod claims one, a SIGKILLed daemon's successor adopts the rest, WARM_POOL_SIZE=0 deletes them", async () => {
    const poolInstances = () =>
      [...bed.fake.model.instances.values()].filter(
        (i) => (i.labels as Record<string, string> | undefined)?.["peerpods-sandbox-id"] === labelValue("_warm-pool"),
      );
    await runWarmPoolScenario({
      dirs: bed.dirs,
      size: 1,
      env: (size) => env({ WARM_POOL_SIZE: String(size) }),
      started: (d) => (bed.daemon = d),
      poolVms: () => poolInstances().map((i) => i.name),
      checkPool: async () =>
        expect(poolInstances().map((i) => i.labels)).toEqual([
          expect.objectContaining({
            "peerpods-sandbox-id": labelValue("_warm-pool"),
            "peerpods-node": labelValue("test-node"),
            "peerpods-cluster": labelValue(await clusterMark(bed.dirs)),
          }),
        ]),
      launches: () => inserts().length,
      leftovers: async () => {
        await bed.fake.idle();
        return leftovers();
      },
      nothingLeft: (l) => l.instances + l.disks === 0,
    });
  }, 300_000);
});
