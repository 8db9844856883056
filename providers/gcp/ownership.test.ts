import { describe, expect, it } from "vitest";
import { instanceOwner, labelValue, OWNER_KEYS, ownerFilter, ownerLabels, ownerMetadata } from "./ownership.ts";

describe("gcp ownership marks", () => {
  it("keeps values that fit GCP label rules and makes others fit, distinct by a hash", () => {
    expect(labelValue("worker-1")).toBe("worker-1");
    const id = "a".repeat(64);
    expect(labelValue(id)).toHaveLength(63);
    expect(labelValue(id)).not.toBe(labelValue(`${"a".repeat(63)}b`));
    expect(labelValue("Node.Example")).toMatch(/^node-example-[0-9a-f]{8}$/);
    expect(labelValue("node-example")).not.toBe(labelValue("Node.Example"));
  });

  it("reads the owner only when labels and metadata agree", () => {
    const owner = { sandboxId: "S".repeat(70), node: "n.1", cluster: "prod" };
    const vm = { labels: ownerLabels(owner, new Map([["team", "x"]])), metadata: { items: ownerMetadata(owner) } };
    expect(instanceOwner(vm)).toEqual(owner);
    expect(instanceOwner({ ...vm, labels: { ...vm.labels, [OWNER_KEYS.node]: "n-2" } })).toBeUndefined();
    expect(instanceOwner({ labels: vm.labels })).toBeUndefined();
    expect(ownerFilter(owner)).toBe(
      `(labels.peerpods-node = "${labelValue("n.1")}") AND (labels.peerpods-cluster = "prod")`,
    );
  });
});
