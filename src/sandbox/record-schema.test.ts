import { describe, expect, it } from "vitest";
import { validateSandboxRecord } from "./record-schema.ts";

const good = {
  version: 1,
  id: "sb1",
  state: "running",
  createdAt: "2026-01-01T00:00:00.000Z",
  updatedAt: "2026-01-01T00:00:01.000Z",
  annotations: { "io.kubernetes.cri.sandbox-name": "web" },
  networkNamespacePath: "/run/netns/x",
  agentSocketPath: "/run/peerpod/pods/sb1/agent.ttrpc",
  vm: { name: "podvm-web-sb1", token: "t", id: "i-1", address: "10.0.0.2" },
  tunnel: { vni: 555000, state: "up", network: {} },
  attempt: 1,
};

describe("validateSandboxRecord", () => {
  it("accepts what the daemon writes", () => {
    expect(validateSandboxRecord(good, "sb1")).toEqual(good);
    const { vm: _vm, tunnel: _tunnel, attempt: _attempt, ...created } = { ...good, state: "created" };
    expect(validateSandboxRecord(created, "sb1")).toEqual(created);
  });

  it.each([
    ["no annotations", { annotations: undefined }, /annotations/],
    ["an unknown state", { state: "bogus" }, /state .*expected one of created/],
    ["another sandbox's id", { id: "sb2" }, /id/],
    ["a bad timestamp", { createdAt: "yesterday" }, /createdAt/],
    ["a non-string annotation", { annotations: { a: 1 } }, /annotations/],
    ["a VM without a name", { vm: { token: "t" } }, /vm\.name/],
    ["a VNI out of range", { tunnel: { vni: 1 << 24, state: "up" } }, /tunnel\.vni/],
    ["an unknown tunnel state", { tunnel: { vni: 5, state: "sideways" } }, /tunnel\.state/],
    ["a fractional attempt", { attempt: 1.5 }, /attempt/],
  ])("refuses a record with %s, naming the field", (_what, change, message) => {
    expect(() => validateSandboxRecord({ ...good, ...change }, "sb1")).toThrow(message);
  });

  it("refuses what is not an object", () => {
    for (const v of [null, [], "x", 3]) expect(() => validateSandboxRecord(v, "sb1")).toThrow(/the record/);
  });
});
