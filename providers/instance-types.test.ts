import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  chooseInstanceType,
  chooseProviderInstanceType,
  compareInstanceTypes,
  InstanceTypeError,
  type InstanceTypePolicy,
  type InstanceTypeRequest,
  type InstanceTypeSpec,
} from "./instance-types.ts";
import { ProviderError } from "./provider.ts";

const policyOf = (allowed: readonly InstanceTypeSpec[], defaultType = "m6a.large"): InstanceTypePolicy => ({
  allowed,
  defaultType,
  allowedVariable: "PODVM_INSTANCE_TYPES",
  defaultVariable: "PODVM_INSTANCE_TYPE",
});

// Brute force, written independently of the implementation: a type is the answer when it fits
// and no other fitting type is strictly smaller on (vCPUs, memory, GPUs, name) compared field by
// field.
function smaller(a: InstanceTypeSpec, b: InstanceTypeSpec): boolean {
  const ka = [a.vcpus, a.memoryMiB, a.gpus] as const;
  const kb = [b.vcpus, b.memoryMiB, b.gpus] as const;
  for (let i = 0; i < 3; i++) if (ka[i] !== kb[i]) return ka[i]! < kb[i]!;
  return a.name < b.name;
}
function fits(t: InstanceTypeSpec, r: InstanceTypeRequest): boolean {
  return t.vcpus >= (r.vcpus ?? 0) && t.memoryMiB >= (r.memoryMiB ?? 0) && t.gpus >= (r.gpus ?? 0);
}
function bruteOrder(table: readonly InstanceTypeSpec[], r: InstanceTypeRequest): string[] {
  const left = table.filter((t) => fits(t, r));
  const out: string[] = [];
  while (left.length > 0) {
    const min = left.find((t) => left.every((o) => o === t || !smaller(o, t)))!;
    out.push(min.name);
    left.splice(left.indexOf(min), 1);
  }
  return out;
}

const typeTable = fc.uniqueArray(
  fc.record({
    name: fc.stringMatching(/^[a-z][a-z0-9]{0,3}\.[a-z0-9]{1,4}$/),
    vcpus: fc.integer({ min: 1, max: 8 }),
    memoryMiB: fc.constantFrom(512, 1024, 2048, 4096, 8192),
    gpus: fc.integer({ min: 0, max: 2 }),
  }),
  { selector: (t) => t.name, minLength: 1, maxLength: 12 },
);
const sizeRequest = fc.record({
  vcpus: fc.option(fc.integer({ min: 0, max: 9 }), { nil: undefined }),
  memoryMiB: fc.option(fc.constantFrom(0, 256, 1000, 2048, 3000, 8192, 9000), { nil: undefined }),
  gpus: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
});

describe("chooseInstanceType", () => {
  it("matches a brute-force choice over random type tables, fallbacks included", () => {
    fc.assert(
      fc.property(typeTable, sizeRequest, (table, req) => {
        const asks = (req.vcpus ?? 0) > 0 || (req.memoryMiB ?? 0) > 0 || (req.gpus ?? 0) > 0;
        const expected = bruteOrder(table, req);
        if (!asks) {
          expect(chooseInstanceType(req, policyOf(table))).toEqual({
            name: "m6a.large",
            reason: "default",
            fallbacks: [],
          });
        } else if (expected.length === 0) {
          expect(() => chooseInstanceType(req, policyOf(table))).toThrow(InstanceTypeError);
        } else {
          const choice = chooseInstanceType(req, policyOf(table));
          expect(choice.reason).toBe("smallest-fit");
          expect([choice.name, ...choice.fallbacks]).toEqual(expected);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("never returns a type that misses a request, and never one larger than another that fits", () => {
    fc.assert(
      fc.property(typeTable, sizeRequest, (table, req) => {
        let choice;
        try {
          choice = chooseInstanceType(req, policyOf(table));
        } catch (err) {
          expect(err).toBeInstanceOf(InstanceTypeError);
          expect(table.some((t) => fits(t, req))).toBe(false);
          return;
        }
        if (choice.reason !== "smallest-fit") return;
        const chosen = table.find((t) => t.name === choice.name)!;
        expect(fits(chosen, req)).toBe(true);
        for (const t of table) if (fits(t, req)) expect(compareInstanceTypes(chosen, t)).toBeLessThanOrEqual(0);
      }),
      { numRuns: 1000 },
    );
  });

  it("lets the annotation win when it is allowed, whatever the sizes say", () => {
    fc.assert(
      fc.property(typeTable, sizeRequest, fc.nat(), (table, req, pick) => {
        const named = table[pick % table.length]!.name;
        expect(chooseInstanceType({ ...req, instanceType: named }, policyOf(table))).toEqual({
          name: named,
          reason: "annotation",
          fallbacks: [],
        });
      }),
    );
  });

  it("rejects an annotation outside the allowed list, naming it and the variable", () => {
    const table = [{ name: "t3.small", vcpus: 2, memoryMiB: 2048, gpus: 0 }];
    expect(() => chooseInstanceType({ instanceType: "x9.huge" }, policyOf(table))).toThrow(
      /"x9\.huge".*not allowed: PODVM_INSTANCE_TYPES lists t3\.small/,
    );
  });

  it("accepts the default type as annotation even when the list omits it, and any type without a list", () => {
    const table = [{ name: "t3.small", vcpus: 2, memoryMiB: 2048, gpus: 0 }];
    expect(chooseInstanceType({ instanceType: "m6a.large" }, policyOf(table)).name).toBe("m6a.large");
    expect(chooseInstanceType({ instanceType: "c7i.48xlarge" }, policyOf([])).name).toBe("c7i.48xlarge");
  });

  it("uses the default when sizes are asked but no list is set", () => {
    expect(chooseInstanceType({ vcpus: 64 }, policyOf([]))).toEqual({
      name: "m6a.large",
      reason: "default",
      fallbacks: [],
    });
  });

  it("says what could not be met", () => {
    const table = [{ name: "t3.small", vcpus: 2, memoryMiB: 2048, gpus: 0 }];
    expect(() => chooseInstanceType({ vcpus: 4, memoryMiB: 4096, gpus: 1 }, policyOf(table))).toThrow(
      "no type in PODVM_INSTANCE_TYPES (t3.small (2 vCPU, 2048 MiB)) has at least 4 vCPUs, 4096 MiB of memory, 1 GPUs",
    );
  });

  it("orders by vCPUs before memory: 2 vCPU/8 GiB beats 4 vCPU/4 GiB for a 2 vCPU/4 GiB pod", () => {
    const table = [
      { name: "c.xlarge", vcpus: 4, memoryMiB: 4096, gpus: 0 },
      { name: "r.large", vcpus: 2, memoryMiB: 8192, gpus: 0 },
      { name: "t.medium", vcpus: 2, memoryMiB: 2048, gpus: 0 },
    ];
    expect(chooseInstanceType({ vcpus: 2, memoryMiB: 4096 }, policyOf(table))).toEqual({
      name: "r.large",
      reason: "smallest-fit",
      fallbacks: ["c.xlarge"],
    });
  });
});

describe("chooseProviderInstanceType", () => {
  const table: InstanceTypeSpec[] = [{ name: "small", vcpus: 2, memoryMiB: 4096, gpus: 0 }];

  it("answers what chooseInstanceType answers", () => {
    const req = { vcpus: 1 };
    expect(chooseProviderInstanceType(req, policyOf(table))).toEqual(chooseInstanceType(req, policyOf(table)));
  });

  it("fails a wish the allowed types cannot meet as a ProviderError that is not retried", () => {
    let thrown: unknown;
    try {
      chooseProviderInstanceType({ vcpus: 64 }, policyOf(table));
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ProviderError);
    expect((thrown as ProviderError).retryable).toBe(false);
    expect((thrown as ProviderError).message).toMatch(
      /^no type in PODVM_INSTANCE_TYPES \(small \(2 vCPU, 4096 MiB\)\) has /,
    );
    expect((thrown as ProviderError).cause).toBeInstanceOf(InstanceTypeError);
  });
});
