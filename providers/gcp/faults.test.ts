// The gcp provider under the faults Compute Engine shows: throttling, server errors, lost
// answers, operations that end in error, no capacity, quota, missing permissions, a refused
// token. Each either rides it out within the deadline or fails naming what to fix, and never
// leaves a second VM.
import { afterEach, describe, expect, it } from "vitest";
import type { FaultRule } from "../../test/support/fake-gce.ts";
import { gcpTestBedPerFile, TEST_OWNER } from "../../test/support/gcp-test-bed.ts";
import { rejection } from "../../test/support/provider-rejection.ts";

const bed = gcpTestBedPerFile({
  env: { GCP_INSTANCE_TYPES: "n2d-standard-2,n2d-standard-4,n2d-highmem-4,n2d-standard-8" },
});
afterEach(async () => {
  bed.fake.clearFaults();
  bed.fake.model.denied.clear();
  await bed.fake.idle();
  for (const vm of await bed.provider.listOwnedVms(TEST_OWNER, AbortSignal.timeout(10_000)))
    await bed.provider.deleteVm(vm, AbortSignal.timeout(10_000));
  await bed.fake.idle();
});

/** An instance insert (of `machineType` only, when given) whose operation ends in this error. */
function failedInsert(code: string, message: string, httpStatus: number, machineType?: string): FaultRule {
  return {
    method: "POST",
    resource: "instances",
    ...(machineType === undefined ? {} : { machineType }),
    action: { kind: "fail-operation", failure: { code, message, httpStatus } },
  };
}

const signal = (ms = 20_000) => AbortSignal.timeout(ms);
const inserts = () => bed.fake.requests.filter((r) => r.method === "POST" && r.resource === "instances");

describe("gcp provider faults", () => {
  it("retries a throttled insert and a failing operation wait with the same request id", async () => {
    const before = inserts().length;
    bed.fake.inject({ method: "POST", resource: "instances", action: { kind: "throttle" }, times: 2 });
    bed.fake.inject({
      method: "POST",
      resource: "operations",
      action: { kind: "error", status: 503, reason: "backendError", message: "Backend Error" },
      times: 2,
    });
    const vm = await bed.provider.createVm(bed.request("podvm-throttled"), signal());
    expect(vm.address).toBeDefined();
    const mine = inserts().slice(before);
    expect(mine.map((r) => r.status)).toEqual([429, 429, 200]);
    expect(new Set(mine.map((r) => r.requestId)).size).toBe(1);
    expect(bed.fake.model.instances.size).toBe(1);
  });

  it("after a lost insert answer, the retry gets the first insert's operation: one instance", async () => {
    const before = inserts().length;
    bed.fake.inject({ method: "POST", resource: "instances", action: { kind: "drop-after-accept" } });
    await bed.provider.createVm(bed.request("podvm-lost"), signal());
    const mine = inserts().slice(before);
    expect(mine.map((r) => r.status)).toEqual(["dropped", 200]);
    expect(mine[0]!.requestId).toBe(mine[1]!.requestId);
    expect([...bed.fake.model.instances.keys()]).toEqual(["podvm-lost"]);
    expect(bed.fake.model.disks.size).toBe(1);
  });

  it("a restarted provider finds the instance an interrupted create made instead of inserting again", async () => {
    const req = bed.request("podvm-resumed");
    // The first daemon's insert went through, but it never learned so (answer lost, then
    // throttled until its deadline).
    bed.fake.inject({ method: "POST", resource: "instances", action: { kind: "drop-after-accept" } });
    bed.fake.inject({ method: "POST", resource: "instances", action: { kind: "throttle" }, times: 1000 });
    await rejection(bed.restarted().createVm(req, signal(3000)));
    bed.fake.clearFaults();
    await bed.fake.idle();
    expect(bed.fake.model.instances.size).toBe(1);
    const before = inserts().length;
    const vm = await bed.restarted().createVm(req, signal());
    expect(vm.name).toBe("podvm-resumed");
    expect(inserts().length).toBe(before);
    expect(bed.fake.model.instances.size).toBe(1);
  });

  it("gives up throttling at the deadline with a retryable error", async () => {
    bed.fake.inject({ method: "POST", resource: "instances", action: { kind: "throttle" }, times: 1000 });
    const err = await rejection(bed.provider.createVm(bed.request("podvm-busy"), signal(500)));
    expect(err.retryable).toBe(true);
    expect(err.message).toMatch(/deadline reached while creating instance podvm-busy.*rateLimitExceeded/);
    expect(bed.fake.model.instances.size).toBe(0);
  });

  it("falls back to the next fitting machine type when the zone has no capacity, naming what it tried", async () => {
    bed.fake.inject(
      failedInsert(
        "ZONE_RESOURCE_POOL_EXHAUSTED",
        "The zone 'projects/peerpods-test-1/zones/us-central1-a' does not have enough resources available to fulfill the request.  Try a different zone, or try again later.",
        503,
        "n2d-standard-4",
      ),
    );
    const vm = await bed.provider.createVm(bed.request("podvm-fallback", { resources: { vcpus: 4 } }), signal());
    expect(vm.details?.machineType).toBe("n2d-highmem-4");
    expect(
      inserts()
        .slice(-2)
        .map((r) => String(r.body!.machineType).split("/").at(-1)),
    ).toEqual(["n2d-standard-4", "n2d-highmem-4"]);
    expect(
      new Set(
        inserts()
          .slice(-2)
          .map((r) => r.requestId),
      ).size,
    ).toBe(2);

    for (const t of ["n2d-standard-4", "n2d-highmem-4", "n2d-standard-8"]) {
      bed.fake.inject(
        failedInsert("QUOTA_EXCEEDED", "Quota 'N2D_CPUS' exceeded.  Limit: 24.0 in region us-central1.", 403, t),
      );
    }
    const err = await rejection(
      bed.provider.createVm(bed.request("podvm-noroom", { resources: { vcpus: 4 } }), signal()),
    );
    expect(err.retryable).toBe(true);
    expect(err.message).toMatch(
      /no capacity in us-central1-a for podvm-noroom: tried n2d-standard-4 \(QUOTA_EXCEEDED.*n2d-highmem-4.*n2d-standard-8/,
    );
  });

  it("does not swap a machine type the pod named when the zone has none", async () => {
    bed.fake.inject(
      failedInsert(
        "ZONE_RESOURCE_POOL_EXHAUSTED",
        "The zone does not have enough resources available to fulfill the request.",
        503,
      ),
    );
    const err = await rejection(
      bed.provider.createVm(bed.request("podvm-named", { resources: { instanceType: "n2d-standard-4" } }), signal()),
    );
    expect(err.retryable).toBe(true);
    expect(err.message).toMatch(/no capacity.*ZONE_RESOURCE_POOL_EXHAUSTED/);
    expect(inserts().at(-1)!.body!.machineType).toMatch(/n2d-standard-4$/);
  });

  it("names the missing IAM permission", async () => {
    bed.fake.model.denied.add("compute.instances.create");
    const err = await rejection(bed.provider.createVm(bed.request("podvm-denied"), signal()));
    expect(err.retryable).toBe(false);
    expect(err.message).toMatch(
      /service account peerpods@peerpods-test-1\.iam\.gserviceaccount\.com .* lacks IAM permission compute\.instances\.create/,
    );
  });

  it("names the variable of an image that does not exist", async () => {
    const err = await rejection(
      bed
        .restarted({ PODVM_IMAGE_NAME: "projects/peerpods-test-1/global/images/nope" })
        .createVm(bed.request("podvm-noimage"), signal()),
    );
    expect(err.message).toMatch(/^PODVM_IMAGE_NAME=projects\/peerpods-test-1\/global\/images\/nope: .*was not found/);
    expect(err.retryable).toBe(false);
  });

  it("reports an operation that ends in error in Google's words and leaves nothing", async () => {
    bed.fake.inject(
      failedInsert("UNSUPPORTED_OPERATION", "Confidential VM is not supported for this machine type.", 400),
    );
    const err = await rejection(bed.provider.createVm(bed.request("podvm-opfail"), signal()));
    expect(err.message).toMatch(/UNSUPPORTED_OPERATION: Confidential VM is not supported/);
    expect(bed.fake.model.instances.size).toBe(0);
  });

  it("says when the token endpoint refuses the service account", async () => {
    const other = bed.restarted({
      GCP_CREDENTIALS: bed.fake.serviceAccountKey({
        client_email: "someone-else@peerpods-test-1.iam.gserviceaccount.com",
      }),
    });
    const err = await rejection(other.listOwnedVms(TEST_OWNER, signal()));
    expect(err.retryable).toBe(false);
    expect(err.message).toMatch(
      /GCP sign-in failed .*token endpoint https:\/\/127\.0\.0\.1:\d+\/token refused service account someone-else@.*invalid_grant/,
    );
    expect(err.message).toMatch(/GCP_CREDENTIALS/);
  });
});
