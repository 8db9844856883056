// Listing the node's instances by their ownership tags (page by page) and deleting them.
import { afterEach, describe, expect, it } from "vitest";
import { awsEnv, awsProvider, deadline, vmRequest } from "../../test/support/aws-fixture.ts";
import { FakeEc2 } from "../../test/support/fake-ec2.ts";
import { ProviderError, type VmInstance } from "../provider.ts";
import type { AwsProvider } from "./provider.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(): Promise<{ fake: FakeEc2; p: AwsProvider }> {
  const fake = await FakeEc2.start({ bootDelayMs: 0 });
  cleanups.push(() => fake.close());
  const p = awsProvider(awsEnv(fake));
  cleanups.push(() => p.close());
  return { fake, p };
}

const ours = { node: "worker-1", cluster: "cluster-a" };

describe("AWS listOwnedVms", () => {
  it("lists exactly this node's and cluster's live instances, across pages", async () => {
    const { fake, p } = await setup();
    const mine: VmInstance[] = [];
    for (let n = 0; n < 13; n++) mine.push(await p.createVm(vmRequest(n), deadline()));
    await p.createVm(
      vmRequest(100, { owner: { sandboxId: "s-100", node: "worker-2", cluster: "cluster-a" } }),
      deadline(),
    );
    await p.createVm(
      vmRequest(101, { owner: { sandboxId: "s-101", node: "worker-1", cluster: "cluster-b" } }),
      deadline(),
    );
    await p.deleteVm(mine[3]!, deadline());
    await p.deleteVm(mine[7]!, deadline());
    const live = mine.filter((_, n) => n !== 3 && n !== 7);

    const before = fake.calls("DescribeInstances").length;
    const listed = await p.listOwnedVms(ours, deadline());
    expect(listed.map((v) => v.id).sort()).toEqual(live.map((v) => v.id).sort());
    for (const v of listed) {
      const made = live.find((m) => m.id === v.id)!;
      expect(v).toMatchObject({ name: made.name, address: made.address, owner: made.owner });
    }
    // 11 instances in pages of 5: three requests, the later ones carrying the token.
    const pages = fake.calls("DescribeInstances").slice(before);
    expect(pages).toHaveLength(3);
    expect(pages.map((c) => c.params.NextToken === undefined)).toEqual([true, false, false]);
    expect(pages[0]!.params).toMatchObject({
      "Filter.1.Name": "tag:peerpods.node",
      "Filter.1.Value.1": "worker-1",
      "Filter.2.Name": "tag:peerpods.cluster",
      "Filter.2.Value.1": "cluster-a",
      "Filter.3.Name": "instance-state-name",
      MaxResults: "5",
    });
  });

  it("lists nothing when the node has no instances", async () => {
    const { p } = await setup();
    expect(await p.listOwnedVms(ours, deadline())).toEqual([]);
  });
});

describe("AWS deleteVm", () => {
  it("is idempotent: deleting again, or an instance EC2 no longer knows, succeeds", async () => {
    const { fake, p } = await setup();
    const vm = await p.createVm(vmRequest(1), deadline());
    await p.deleteVm(vm, deadline());
    await p.deleteVm(vm, deadline());
    expect(fake.instance(vm.id)!.state).toMatch(/shutting-down|terminated/);
    await new Promise((r) => setTimeout(r, 60));
    expect(fake.instance(vm.id)!.state).toBe("terminated");
    await p.deleteVm(vm, deadline());
    await p.deleteVm({ id: "i-0123456789abcdef0", name: "podvm-gone", owner: vm.owner }, deadline());
    // Only live instances carrying the marks are terminated: once terminated, or unknown, none.
    expect(fake.calls("TerminateInstances").map((c) => c.status)).toEqual([200]);
  });

  it("finds the VM by name when its id was never learned, and touches no other", async () => {
    const { fake, p } = await setup();
    const a = await p.createVm(vmRequest(1), deadline());
    const b = await p.createVm(vmRequest(2), deadline());
    await p.deleteVm({ id: undefined, name: a.name, owner: a.owner }, deadline());
    expect(fake.instance(a.id)!.state).not.toBe("running");
    expect(fake.instance(b.id)!.state).toBe("running");
    // Nothing by that name: nothing to do.
    await p.deleteVm({ id: undefined, name: "podvm-never-made", owner: a.owner }, deadline());
    expect(fake.calls("TerminateInstances")).toHaveLength(1);
  });

  it("deletes, by name or by id, only an instance whose ownership tags are exactly the given marks", async () => {
    const { fake, p } = await setup();
    const a = await p.createVm(vmRequest(1), deadline());
    // Same Name tag, other marks: another sandbox, another node, another cluster sharing the account.
    const others = [
      await p.createVm(vmRequest(2, { name: a.name, owner: { ...a.owner, sandboxId: "sandbox-other" } }), deadline()),
      await p.createVm(vmRequest(3, { name: a.name, owner: { ...a.owner, node: "worker-2" } }), deadline()),
      await p.createVm(vmRequest(4, { name: a.name, owner: { ...a.owner, cluster: "cluster-b" } }), deadline()),
    ];
    for (const o of others) await p.deleteVm({ id: o.id, name: a.name, owner: a.owner }, deadline());
    await p.deleteVm({ id: a.id, name: a.name, owner: { ...a.owner, cluster: "cluster-b" } }, deadline());
    expect([a, ...others].map((v) => fake.instance(v.id)!.state)).toEqual(["running", "running", "running", "running"]);
    await p.deleteVm({ id: undefined, name: a.name, owner: a.owner }, deadline());
    expect([a, ...others].map((v) => fake.instance(v.id)!.state === "running")).toEqual([false, true, true, true]);
  });

  it("fails clearly on an id that is not an instance id", async () => {
    const { p } = await setup();
    const err = await p.deleteVm({ id: "vm-17", name: "podvm-x", owner: vmRequest(1).owner }, deadline()).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).message).toBe(
      'ec2:DescribeInstances refused: InvalidInstanceID.Malformed: Invalid id: "vm-17"',
    );
  });
});
