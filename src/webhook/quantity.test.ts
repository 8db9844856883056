import { describe, expect, it } from "vitest";
import { nanosToCores, nanosToMebibytes, parseQuantityNanos, QuantityError } from "./quantity.ts";

const GIGA = 1_000_000_000n;

describe("parseQuantityNanos", () => {
  it.each([
    ["1", GIGA],
    ["500m", 500_000_000n],
    ["0.5", 500_000_000n],
    [".5", 500_000_000n],
    ["2.", 2n * GIGA],
    ["+3", 3n * GIGA],
    ["250u", 250_000n],
    ["7n", 7n],
    ["1k", 1000n * GIGA],
    ["1M", 1_000_000n * GIGA],
    ["1G", 10n ** 9n * GIGA],
    ["1Ki", 1024n * GIGA],
    ["128Mi", 128n * 1024n * 1024n * GIGA],
    ["1.5Gi", 1536n * 1024n * 1024n * GIGA],
    ["1e3", 1000n * GIGA],
    ["12E-1", 1_200_000_000n],
    ["0", 0n],
    ["-0", 0n],
  ])("%s", (text, nanos) => {
    expect(parseQuantityNanos(text)).toBe(nanos);
  });

  it("rounds a fraction of a nano-unit up", () => {
    expect(parseQuantityNanos("0.1n")).toBe(1n);
    expect(parseQuantityNanos("1e-10")).toBe(1n);
  });

  it("adds exactly where floating point would not", () => {
    const sum = parseQuantityNanos("1.1") + parseQuantityNanos("0.9");
    expect(nanosToCores(sum)).toBe(2n);
    expect(nanosToCores(parseQuantityNanos("0.1") + parseQuantityNanos("0.2") + parseQuantityNanos("0.7"))).toBe(1n);
  });

  it.each(["", "m", "1.2.3", "1 Gi", "1gi", "1KiB", "0x10", "-1", "-500m", "1e", "1e99", "abc", "1".repeat(80)])(
    "refuses %j",
    (text) => {
      expect(() => parseQuantityNanos(text)).toThrow(QuantityError);
    },
  );
});

describe("rounding to whole units", () => {
  it("rounds CPUs up to cores", () => {
    expect(nanosToCores(0n)).toBe(0n);
    expect(nanosToCores(1n)).toBe(1n);
    expect(nanosToCores(GIGA)).toBe(1n);
    expect(nanosToCores(GIGA + 1n)).toBe(2n);
  });

  it("rounds bytes up to MiB", () => {
    expect(nanosToMebibytes(parseQuantityNanos("1Mi"))).toBe(1n);
    expect(nanosToMebibytes(parseQuantityNanos("1M"))).toBe(1n); // 10^6 bytes < 1 MiB
    expect(nanosToMebibytes(parseQuantityNanos("1049000"))).toBe(2n); // just over 1 MiB
    expect(nanosToMebibytes(parseQuantityNanos("1G"))).toBe(954n);
  });
});
