import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { vmNameFor } from "./vm-name.ts";

const owner = (sandboxId: string, node = "worker-1", cluster = "prod/1b4e28ba-2fa1-11d2-883f-0016d3cca427") => ({
  sandboxId,
  node,
  cluster,
});
const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

describe("vmNameFor", () => {
  it("gives sandboxes whose ids differ only past the first 12 characters or in case different names", () => {
    expect(vmNameFor(owner("abcdef123456-one"), undefined)).not.toBe(vmNameFor(owner("ABCDEF123456-two"), undefined));
    expect(vmNameFor(owner("abcdef123456-one"), "web-0")).not.toBe(vmNameFor(owner("abcdef123456-two"), "web-0"));
    expect(vmNameFor(owner("Sandbox"), "web-0")).not.toBe(vmNameFor(owner("sandbox"), "web-0"));
  });

  it("gives the same sandbox id on another node or in another cluster another name", () => {
    const id = "5c1f0e9a8b7d6c5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e";
    const names = new Set([
      vmNameFor(owner(id), "web-0"),
      vmNameFor(owner(id, "worker-2"), "web-0"),
      vmNameFor(owner(id, "worker-1", "dev/other"), "web-0"),
    ]);
    expect(names.size).toBe(3);
  });

  it("is stable for a sandbox and readable: pod name and the id's start", () => {
    const o = owner("5c1f0e9a8b7d6c5e4f3a2b1c0d9e8f7a");
    expect(vmNameFor(o, "web-0")).toBe(vmNameFor(o, "web-0"));
    expect(vmNameFor(o, "web-0")).toMatch(/^podvm-web-0-5c1f0e9a-[0-9a-f]+$/);
    expect(vmNameFor(o, undefined)).toMatch(/^podvm-5c1f0e9a8b7d-[0-9a-f]+$/);
  });

  it("is a DNS label of at most 63 characters and distinct for distinct sandboxes, whatever the id and pod name", () => {
    const id = fc.stringMatching(/^[A-Za-z0-9._-]{1,128}$/);
    fc.assert(
      fc.property(id, id, fc.option(fc.string({ maxLength: 300 }), { nil: undefined }), (a, b, pod) => {
        const na = vmNameFor(owner(a), pod);
        expect(na).toMatch(DNS_LABEL);
        expect(na.length).toBeLessThanOrEqual(63);
        if (a !== b) expect(vmNameFor(owner(b), pod)).not.toBe(na);
      }),
      { numRuns: 2000 },
    );
  });
});
