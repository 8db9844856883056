import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { XdrError, XdrReader } from "./xdr-reader.ts";
import { XdrWriter } from "./xdr-writer.ts";

describe("XDR", () => {
  it("encodes like RFC 4506: big-endian words, padded strings, optionals and arrays", () => {
    const w = new XdrWriter(4);
    w.int(-2)
      .uint(0xfffffffe)
      .hyper(-3n)
      .uhyper(2n ** 64n - 1n)
      .string("abcde")
      .optional(undefined, (x, v: string) => x.string(v))
      .optional("z", (x, v) => x.string(v));
    w.array([1, 2], (x, v) => x.int(v)).fixedOpaque(Buffer.from([9, 8, 7]), 3);
    expect(w.bytes().toString("hex")).toBe(
      "fffffffe" +
        "fffffffe" +
        "fffffffffffffffd" +
        "ffffffffffffffff" +
        "00000005" +
        "6162636465000000" +
        "00000000" +
        "00000001" +
        "00000001" +
        "7a000000" +
        "00000002" +
        "00000001" +
        "00000002" +
        "09080700",
    );
  });

  it("reads back whatever it writes", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -0x80000000, max: 0x7fffffff }),
        fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
        fc.string(),
        fc.option(fc.string(), { nil: undefined }),
        fc.array(fc.uint8Array()),
        (i, h, s, o, list) => {
          const w = new XdrWriter(1);
          w.int(i)
            .hyper(h)
            .string(s)
            .optional(o, (x, v) => x.string(v))
            .array(list, (x, v) => x.opaque(v));
          const r = new XdrReader(Buffer.from(w.bytes()));
          expect(r.int()).toBe(i);
          expect(r.hyper()).toBe(h);
          expect(r.string()).toBe(s);
          expect(r.optional((x) => x.string())).toBe(o);
          expect(r.array((x) => x.opaque()).map((b) => [...b])).toEqual(list.map((b) => [...b]));
          expect(r.remaining).toBe(0);
        },
      ),
    );
  });

  it("refuses values the wire cannot carry", () => {
    expect(() => new XdrWriter().int(2 ** 31)).toThrow(RangeError);
    expect(() => new XdrWriter().uint(-1)).toThrow(RangeError);
    expect(() => new XdrWriter().fixedOpaque(Buffer.alloc(3), 16)).toThrow(/16 bytes/);
  });

  it("throws XdrError on truncated input and on lengths larger than the message", () => {
    expect(() => new XdrReader(Buffer.from("0000", "hex")).int()).toThrow(XdrError);
    expect(() => new XdrReader(Buffer.from("00000010616263", "hex")).string()).toThrow(/truncated/);
    expect(() => new XdrReader(Buffer.from("7fffffff", "hex")).array((r) => r.int())).toThrow(/claims/);
    expect(() => new XdrReader(Buffer.from("0000000500000000", "hex")).string(4)).toThrow(/limit of 4/);
    expect(() => new XdrReader(Buffer.from("00000002", "hex")).bool()).toThrow(/0 or 1/);
  });
});
