// Every fault the fake EC2 endpoint injects ends in a clear error or a successful retry, and
// never in an instance running that nothing owns.
import { afterEach, describe, expect, it } from "vitest";
import { awsEnv, awsProvider, deadline, vmRequest } from "../../test/support/aws-fixture.ts";
import { FakeEc2, type Fault } from "../../test/support/fake-ec2.ts";
import { rejection } from "../../test/support/provider-rejection.ts";
import type { VmInstance } from "../provider.ts";
import type { AwsProvider } from "./provider.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(env: Record<string, string | undefined> = {}): Promise<{ fake: FakeEc2; p: AwsProvider }> {
  const fake = await FakeEc2.start({ bootDelayMs: 20 });
  cleanups.push(() => fake.close());
  const p = awsProvider(awsEnv(fake, env));
  cleanups.push(() => p.close());
  return { fake, p };
}

/** The instances EC2 runs (or is starting) are exactly the ones the caller holds. */
function expectOnlyOwned(fake: FakeEc2, owned: readonly VmInstance[]): void {
  const live = fake
    .instances()
    .filter((i) => i.state === "pending" || i.state === "running")
    .map((i) => i.id)
    .sort();
  expect(live).toEqual(owned.map((v) => v.id).sort());
}

// Throttling is met once per call only: the SDK's adaptive mode then slows every later call on
// purpose (its client-side rate limiter), which real EC2 wants and tests pay for in seconds.
const transient: { name: string; fault: Fault; times: number }[] = [
  { name: "RequestLimitExceeded (503)", fault: { kind: "throttle" }, times: 1 },
  { name: "InternalError (500)", fault: { kind: "internal", status: 500 }, times: 2 },
  { name: "Unavailable (503)", fault: { kind: "internal", status: 503 }, times: 2 },
  { name: "a connection dropped after the call succeeded", fault: { kind: "drop-after-success" }, times: 2 },
];

describe("AWS provider under injected faults", () => {
  for (const { name, fault, times } of transient) {
    it(`retries ${name} on every call of a create, list and delete`, async () => {
      const { fake, p } = await setup();
      for (const action of ["RunInstances", "DescribeInstances", "TerminateInstances"])
        fake.inject(action, fault, times);
      const vm = await p.createVm(vmRequest(1), deadline());
      expectOnlyOwned(fake, [vm]);
      expect(await p.listOwnedVms(vm.owner, deadline())).toEqual([vm]);
      await p.deleteVm(vm, deadline());
      expectOnlyOwned(fake, []);
      // Each call met its fault and went through on a later attempt, always with the same token.
      const launches = fake.calls("RunInstances");
      expect(launches).toHaveLength(times + 1);
      expect(new Set(launches.map((c) => c.params.ClientToken))).toEqual(new Set([vmRequest(1).token]));
      expect(fake.calls("TerminateInstances")).toHaveLength(times + 1);
      expect(fake.instances()).toHaveLength(1);
    });
  }

  it("makes one instance when RunInstances succeeded but its answer was lost (the retry carries the same ClientToken)", async () => {
    const { fake, p } = await setup();
    fake.inject("RunInstances", { kind: "drop-after-success" });
    const vm = await p.createVm(vmRequest(2), deadline());
    expect(fake.calls("RunInstances").map((c) => c.status)).toEqual([200, 200]);
    expect(fake.instances().map((i) => i.id)).toEqual([vm.id]);
  });

  it("gives up with a retryable error naming throttling once the SDK's attempts are spent", async () => {
    const { fake, p } = await setup({ AWS_MAX_ATTEMPTS: "3" });
    fake.inject("RunInstances", { kind: "throttle" }, 100);
    const err = await rejection(p.createVm(vmRequest(3), deadline()));
    expect(err.retryable).toBe(true);
    expect(err.message).toBe(
      "EC2 throttled ec2:RunInstances after 3 attempts: RequestLimitExceeded: Request limit exceeded.",
    );
    expect(fake.calls("RunInstances")).toHaveLength(3);
    expectOnlyOwned(fake, []);
  });

  it("keeps retrying 5xx no longer than the call's deadline", async () => {
    const { fake, p } = await setup({ AWS_MAX_ATTEMPTS: "20" });
    fake.inject("*", { kind: "internal", status: 503 }, 1000);
    const err = await rejection(p.createVm(vmRequest(4), AbortSignal.timeout(600)));
    // Retried (every call fails, so all are attempts at the first one), and ended by the
    // deadline before the 20 attempts were spent.
    expect(fake.calls().length).toBeGreaterThan(1);
    expect(fake.calls().length).toBeLessThan(20);
    expect(err.retryable).toBe(true);
    expect(err.message).toMatch(/stopped: the call's deadline passed/);
    expectOnlyOwned(fake, []);
  });

  it("names the permission when RunInstances is unauthorized, without retrying", async () => {
    const { fake, p } = await setup();
    fake.inject("RunInstances", { kind: "unauthorized" }, Infinity);
    const err = await rejection(p.createVm(vmRequest(5), deadline()));
    expect(err.retryable).toBe(false);
    expect(err.message).toMatch(
      /^the daemon's AWS identity may not call ec2:RunInstances: grant it .* UnauthorizedOperation: You are not authorized/,
    );
    expect(fake.calls("RunInstances")).toHaveLength(1);
    expectOnlyOwned(fake, []);
  });

  for (const code of ["VcpuLimitExceeded", "InstanceLimitExceeded"] as const) {
    it(`says a quota stops the launch on ${code}, and that waiting may help`, async () => {
      const { fake, p } = await setup();
      fake.inject("RunInstances", { kind: "quota", code });
      const err = await rejection(p.createVm(vmRequest(9), deadline()));
      expect(err.retryable).toBe(true);
      expect(err.message).toMatch(
        new RegExp(
          `^an AWS quota stops ec2:RunInstances: ${code}: .*; ask for a higher limit in Service Quotas or free some$`,
        ),
      );
      expect(fake.calls("RunInstances")).toHaveLength(1);
      expectOnlyOwned(fake, []);
    });
  }

  it("names the permission when TerminateInstances is unauthorized, and deletes once it is granted", async () => {
    const { fake, p } = await setup();
    const vm = await p.createVm(vmRequest(6), deadline());
    fake.inject("TerminateInstances", { kind: "unauthorized" });
    const err = await rejection(p.deleteVm(vm, deadline()));
    expect(err.message).toMatch(/may not call ec2:TerminateInstances/);
    expectOnlyOwned(fake, [vm]);
    await p.deleteVm(vm, deadline());
    expectOnlyOwned(fake, []);
  });

  it("names the permission when listing is unauthorized", async () => {
    const { fake, p } = await setup();
    fake.inject("DescribeInstances", { kind: "unauthorized" });
    const err = await rejection(p.listOwnedVms({ node: "worker-1", cluster: "cluster-a" }, deadline()));
    expect(err.message).toMatch(/may not call ec2:DescribeInstances/);
  });

  it("keeps waiting through a failed poll once the instance exists", async () => {
    const { fake, p } = await setup({ AWS_MAX_ATTEMPTS: "1" });
    fake.inject("DescribeInstances", { kind: "internal", status: 500 }, 3);
    const vm = await p.createVm(vmRequest(7), deadline());
    expect(fake.calls("DescribeInstances").filter((c) => c.status === 500)).toHaveLength(3);
    expectOnlyOwned(fake, [vm]);
  });

  it("leaves the stuck instance to the rollback, which finds and terminates it by name", async () => {
    const { fake, p } = await setup();
    fake.stickPending();
    await rejection(p.createVm(vmRequest(8), AbortSignal.timeout(1000)));
    expect(fake.instances().map((i) => i.state)).toEqual(["pending"]);
    await p.deleteVm({ id: undefined, name: vmRequest(8).name, owner: vmRequest(8).owner }, deadline());
    expectOnlyOwned(fake, []);
  });
});
