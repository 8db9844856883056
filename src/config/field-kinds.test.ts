import { describe, expect, it } from "vitest";
import type { Field, Parsed } from "./field.ts";
import {
  boolField,
  durationField,
  enumField,
  intField,
  listField,
  mapField,
  portField,
  stringField,
} from "./field-kinds.ts";

function unwrap<T>(parsed: Parsed<T>): NonNullable<T> {
  if (!parsed.ok) throw new Error(`expected success, got: ${parsed.expected}`);
  if (parsed.value === undefined || parsed.value === null) throw new Error("parse returned no value");
  return parsed.value;
}

function problemOf<T>(parsed: Parsed<T>): string {
  if (parsed.ok) throw new Error(`expected failure, got: ${String(parsed.value)}`);
  return parsed.expected;
}

function parse<T>(field: Field<T>, raw: string): Parsed<T> {
  return field.parse(raw);
}

describe("stringField", () => {
  it("keeps the text", () => {
    const field = stringField({ env: "S", description: "d" });
    expect(unwrap(parse(field, "/run/x y"))).toBe("/run/x y");
    expect(field.kind).toBe("string");
  });
});

describe("intField", () => {
  const bounded = intField({ env: "N", description: "d", min: 1, max: 10 });
  const free = intField({ env: "N", description: "d" });

  it.each([
    ["1", 1],
    ["10", 10],
    ["+7", 7],
    ["007", 7],
  ])("accepts %s", (raw, value) => {
    expect(unwrap(parse(bounded, raw))).toBe(value);
  });

  it("accepts negatives and zero without bounds", () => {
    expect(unwrap(parse(free, "-42"))).toBe(-42);
    expect(Object.is(unwrap(parse(free, "-0")), 0)).toBe(true);
  });

  it.each(["0", "11", "1.5", "1e3", "0x10", "ten", "1_000", "", "--1", "99999999999999999999"])("rejects %j", (raw) => {
    expect(problemOf(parse(bounded, raw))).toBe("an integer from 1 to 10");
  });

  it("describes one-sided bounds", () => {
    expect(problemOf(parse(intField({ env: "N", description: "d", min: 1 }), "0"))).toBe("an integer of at least 1");
    expect(problemOf(parse(intField({ env: "N", description: "d", max: 5 }), "6"))).toBe("an integer of at most 5");
    expect(problemOf(parse(free, "x"))).toBe("an integer");
  });
});

describe("portField", () => {
  const field = portField({ env: "P", description: "d" });
  it("accepts 1 to 65535", () => {
    expect(unwrap(parse(field, "1"))).toBe(1);
    expect(unwrap(parse(field, "15150"))).toBe(15150);
    expect(unwrap(parse(field, "65535"))).toBe(65535);
  });
  it.each(["0", "65536", "-1", "http", "80.5"])("rejects %j", (raw) => {
    expect(problemOf(parse(field, raw))).toBe("a port number from 1 to 65535");
  });
});

describe("boolField", () => {
  const field = boolField({ env: "B", description: "d" });
  it.each(["true", "TRUE", "True", "t", "T", "1", "yes", "YES", "Yes"])("%s is true", (raw) => {
    expect(unwrap(parse(field, raw))).toBe(true);
  });
  it.each(["false", "FALSE", "False", "f", "F", "0", "no", "NO"])("%s is false", (raw) => {
    expect(unwrap(parse(field, raw))).toBe(false);
  });
  it.each(["2", "maybe", "enabled", "truee", "-1"])("rejects %j", (raw) => {
    expect(problemOf(parse(field, raw))).toBe("true or false (also 1/0, yes/no)");
  });
});

describe("durationField", () => {
  const field = durationField({ env: "D", description: "d" });
  it("parses to milliseconds and shows Go form", () => {
    const ms = unwrap(parse(field, "5m"));
    expect(ms).toBe(300_000);
    expect(field.show(ms)).toBe("5m0s");
  });
  it("rejects garbage with the standard wording", () => {
    expect(problemOf(parse(field, "abc"))).toBe("a Go duration such as 5m or 300s, at most 24h0m0s");
  });
  it("rejects bare numbers, saying a unit is missing", () => {
    expect(problemOf(parse(field, "300"))).toBe(
      "a Go duration such as 5m or 300s, at most 24h0m0s (a number needs a unit: ns, us, ms, s, m or h)",
    );
  });
  it("accepts a bare 0 but not negatives", () => {
    expect(unwrap(parse(field, "0"))).toBe(0);
    expect(problemOf(parse(field, "-5m"))).toBe("a Go duration such as 5m or 300s, at most 24h0m0s");
  });
  it("enforces a minimum", () => {
    const positive = durationField({ env: "D", description: "d", minMs: 1 });
    expect(problemOf(parse(positive, "0"))).toBe("a Go duration such as 5m or 300s, from 1ms to 24h0m0s");
    expect(unwrap(parse(positive, "1ms"))).toBe(1);
  });
  it("bounds every duration well below Node's 2^31 ms timer limit (24h unless the field says)", () => {
    // A larger value overflows setTimeout/setInterval, which then fire after 1 ms.
    expect(problemOf(parse(field, "720h"))).toBe("a Go duration such as 5m or 300s, at most 24h0m0s");
    expect(problemOf(parse(field, "24h0m0.001s"))).toBe("a Go duration such as 5m or 300s, at most 24h0m0s");
    expect(unwrap(parse(field, "24h"))).toBe(86_400_000);
    const long = durationField({ env: "D", description: "d", minMs: 1000, maxMs: 7 * 86_400_000 });
    expect(problemOf(parse(long, "169h"))).toBe("a Go duration such as 5m or 300s, from 1s to 168h0m0s");
    expect(() => durationField({ env: "D", description: "d", maxMs: 2 ** 31 })).toThrow(/D.*2147483647/);
  });
  it("gives no hint quoting a secret's value", () => {
    const secret = durationField({ env: "D", description: "d", secret: true });
    expect(problemOf(parse(secret, "5hunter2"))).toBe("a Go duration such as 5m or 300s, at most 24h0m0s");
  });
});

describe("listField", () => {
  const field = listField({ env: "L", description: "d" });
  it("splits on commas, trims and drops empty items", () => {
    expect(unwrap(parse(field, " sg-1 , sg-2,,sg-3, "))).toEqual(["sg-1", "sg-2", "sg-3"]);
    expect(unwrap(parse(field, "one"))).toEqual(["one"]);
  });
  it("returns a frozen list", () => {
    expect(Object.isFrozen(unwrap(parse(field, "a,b")))).toBe(true);
  });
});

describe("mapField", () => {
  const field = mapField({ env: "TAGS", description: "d" });
  it("parses k=v pairs like upstream TAGS", () => {
    const tags = unwrap(parse(field, "team=infra, env = prod ,url=https://x/?a=b,empty="));
    expect([...tags]).toEqual([
      ["team", "infra"],
      ["env", "prod"],
      ["url", "https://x/?a=b"],
      ["empty", ""],
    ]);
    expect(field.show(tags)).toEqual({ team: "infra", env: "prod", url: "https://x/?a=b", empty: "" });
  });
  it("takes unusual keys as plain data", () => {
    const tags = unwrap(parse(field, "__proto__=x"));
    expect(tags.get("__proto__")).toBe("x");
    expect(Object.getOwnPropertyNames(field.show(tags))).toEqual(["__proto__"]);
  });
  it("rejects an item without =", () => {
    expect(problemOf(parse(field, "a=1,b"))).toBe(
      'comma-separated key=value pairs such as k1=v1,k2=v2 ("b" has no "=")',
    );
  });
  it("rejects an empty key", () => {
    expect(problemOf(parse(field, "=v"))).toContain('"=v" has an empty key');
  });
  it("rejects a repeated key", () => {
    expect(problemOf(parse(field, "a=1,a=2"))).toContain('"a" appears twice');
  });
  it("keeps a secret's items out of the hint", () => {
    const secret = mapField({ env: "CREDS", description: "d", secret: true });
    const problem = problemOf(parse(secret, "user=bob,hunter2"));
    expect(problem).not.toContain("hunter2");
    expect(problem).toContain("an item has no");
  });
});

describe("enumField", () => {
  const field = enumField({ env: "LEVEL", description: "d", values: ["info", "debug"] });
  it("matches without regard to case and returns the canonical word", () => {
    expect(unwrap(parse(field, "DEBUG"))).toBe("debug");
    expect(unwrap(parse(field, "info"))).toBe("info");
  });
  it("lists the choices when rejecting", () => {
    expect(problemOf(parse(field, "verbose"))).toBe("one of info, debug");
  });
});

describe("field metadata", () => {
  it("normalises flag names and switches", () => {
    const one = stringField({ env: "A", flag: "a", description: "d" });
    const two = stringField({ env: "B", flag: ["b", "bee"], description: "d", secret: true, required: true });
    const none = stringField({ env: "C", description: "d" });
    expect(one.flags).toEqual(["a"]);
    expect(two.flags).toEqual(["b", "bee"]);
    expect(none.flags).toEqual([]);
    expect(two.secret).toBe(true);
    expect(two.required).toBe(true);
    expect(one.secret).toBe(false);
    expect(Object.isFrozen(one)).toBe(true);
  });
});
