import { describe, expect, it } from "vitest";
import { PEER_VM_NAME_SUFFIX, peerVmServerName } from "./server-name.ts";

describe("peerVmServerName", () => {
  const sandboxId = "9f3c1be0a4d2e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e";

  it("is a stable, valid DNS name for a 64-character sandbox id", () => {
    const name = peerVmServerName(sandboxId);
    expect(peerVmServerName(sandboxId)).toBe(name);
    expect(name.endsWith(`.${PEER_VM_NAME_SUFFIX}`)).toBe(true);
    for (const label of name.split(".")) {
      expect(label.length).toBeGreaterThan(0);
      expect(label.length).toBeLessThanOrEqual(63);
      expect(label).toMatch(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/);
    }
  });

  it("differs between sandboxes", () => {
    expect(peerVmServerName("a")).not.toBe(peerVmServerName("b"));
    expect(peerVmServerName(sandboxId)).not.toBe(peerVmServerName(sandboxId.toUpperCase()));
  });

  it("rejects an empty id", () => {
    expect(() => peerVmServerName("")).toThrow(TypeError);
  });
});
