import { describe, expect, it } from "vitest";
import { formatGoDuration, GoDurationError, parseGoDuration, parseGoDurationNanos } from "./go-duration.ts";

describe("parseGoDuration", () => {
  it.each([
    ["0", 0],
    ["-0", 0],
    ["300s", 300_000],
    ["5m", 300_000],
    ["1h", 3_600_000],
    ["1h30m", 5_400_000],
    ["1.5h", 5_400_000],
    ["100ms", 100],
    ["2us", 0.002],
    ["2\u00b5s", 0.002],
    ["2\u03bcs", 0.002],
    ["1500ns", 0.0015],
    ["1.1s", 1_100],
    [".5s", 500],
    ["5.s", 5_000],
    ["+5m", 300_000],
    ["-5m", -300_000],
    ["1h2m3s4ms", 3_723_004],
    ["0s", 0],
    ["0.000001ms", 0.000001],
  ])("%s is %d ms", (input, expected) => {
    expect(parseGoDuration(input)).toBe(expected);
  });

  it("keeps exact nanoseconds", () => {
    expect(parseGoDurationNanos("1.000000001s")).toBe(1_000_000_001n);
    expect(parseGoDurationNanos("2562047h47m16.854775807s")).toBe((1n << 63n) - 1n);
  });

  it.each([
    ["", undefined],
    ["300", "a number needs a unit"],
    ["5", "a number needs a unit"],
    ["1h30", "a number needs a unit"],
    ["abc", undefined],
    ["5 m", 'unknown unit " m"'],
    ["5mins", 'unknown unit "mins"'],
    ["5M", 'unknown unit "M"'],
    ["1d", 'unknown unit "d"'],
    [".s", undefined],
    ["-", undefined],
    ["+", undefined],
    ["1.5.5h", "a number needs a unit"],
    ["2562047h47m16.854775808s", "out of range"],
    [" 5m", undefined],
  ])("rejects %j", (input, hint) => {
    let caught: unknown;
    try {
      parseGoDuration(input);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(GoDurationError);
    const error = caught as GoDurationError;
    expect(error.message).toContain("is not a Go duration such as 5m or 300s");
    if (hint === undefined) {
      expect(error.hint).toBeUndefined();
    } else {
      expect(error.hint).toContain(hint);
    }
  });
});

describe("formatGoDuration", () => {
  it.each([
    [0, "0s"],
    [300_000, "5m0s"],
    [5_400_000, "1h30m0s"],
    [1_500, "1.5s"],
    [100, "100ms"],
    [1.5, "1.5ms"],
    [0.002, "2\u00b5s"],
    [0.000_5, "500ns"],
    [-300_000, "-5m0s"],
    [3_723_004, "1h2m3.004s"],
  ])("%d ms is %s", (ms, text) => {
    expect(formatGoDuration(ms)).toBe(text);
  });

  it("round-trips through the parser", () => {
    for (const ms of [0, 1, 999, 1_000, 61_000, 3_600_000, 86_400_000, 0.25]) {
      expect(parseGoDuration(formatGoDuration(ms))).toBe(ms);
    }
  });

  it("refuses non-finite numbers", () => {
    expect(() => formatGoDuration(Number.POSITIVE_INFINITY)).toThrow(RangeError);
  });
});
