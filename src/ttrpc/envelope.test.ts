import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { HEADER_LENGTH } from "./constants.ts";
import {
  decodeRequest,
  decodeResponse,
  encodeRequestFrame,
  encodeResponseFrame,
  encodeStatusFrame,
} from "./envelope.ts";
import { readHeader } from "./frame.ts";

describe("request envelope", () => {
  it("encodes the Version call as the Go client does", () => {
    // Request{service "hypervisor.Hypervisor", method "Version", payload VersionRequest{"0.0.1"}}
    const payload = Buffer.from("0a05302e302e31", "hex");
    const frame = encodeRequestFrame(1, {
      service: "hypervisor.Hypervisor",
      method: "Version",
      payload,
      timeoutNano: 0,
      metadata: [],
    });
    expect(frame.subarray(0, HEADER_LENGTH).toString("hex")).toBe("00000029000000010100");
    const back = decodeRequest(frame.subarray(HEADER_LENGTH));
    expect({ ...back, payload: new Uint8Array(back.payload) }).toEqual({
      service: "hypervisor.Hypervisor",
      method: "Version",
      payload: new Uint8Array(payload),
      timeoutNano: 0,
      metadata: [],
    });
  });

  it("round-trips any request", () => {
    fc.assert(
      fc.property(
        fc.string(),
        fc.string(),
        fc.uint8Array({ maxLength: 300 }),
        fc.oneof(
          fc.constant(0),
          fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
          fc.integer({ min: -(2 ** 40), max: -1 }),
        ),
        fc.array(fc.record({ key: fc.string(), value: fc.string() }), { maxLength: 4 }),
        (service, method, payload, timeoutNano, metadata) => {
          const frame = encodeRequestFrame(9, { service, method, payload, timeoutNano, metadata });
          expect(readHeader(frame).length).toBe(frame.length - HEADER_LENGTH);
          const back = decodeRequest(frame.subarray(HEADER_LENGTH));
          expect({ ...back, payload: new Uint8Array(back.payload) }).toEqual({
            service,
            method,
            payload,
            timeoutNano,
            metadata,
          });
        },
      ),
    );
  });

  it("rejects truncated input with an error, never a crash", () => {
    const frame = encodeRequestFrame(1, {
      service: "s",
      method: "m",
      payload: Buffer.alloc(20),
      timeoutNano: 5,
      metadata: [],
    });
    for (let cut = HEADER_LENGTH + 1; cut < frame.length; cut++) {
      const data = frame.subarray(HEADER_LENGTH, cut);
      try {
        decodeRequest(data);
      } catch (err) {
        expect((err as Error).name).toBe("WireFormatError");
      }
    }
  });
});

describe("response envelope", () => {
  it("is a bare header for an empty success, as the Go server sends it", () => {
    const frame = encodeResponseFrame(3, { status: undefined, payload: new Uint8Array(0) });
    expect(frame.toString("hex")).toBe("00000000000000030200");
    expect(decodeResponse(frame.subarray(HEADER_LENGTH))).toEqual({ status: undefined, payload: new Uint8Array(0) });
  });

  it("carries an error status code and message", () => {
    const frame = encodeStatusFrame(5, 5, "sandbox abc not found");
    const resp = decodeResponse(frame.subarray(HEADER_LENGTH));
    expect(resp.status).toEqual({ code: 5, message: "sandbox abc not found", details: [] });
  });
});
