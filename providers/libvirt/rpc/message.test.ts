import { describe, expect, it } from "vitest";
import { decodeHeader, encodeMessage, FrameDecoder, MessageStatus, MessageType, REMOTE_PROGRAM } from "./message.ts";
import { XdrError } from "./xdr-reader.ts";

const header = {
  program: REMOTE_PROGRAM,
  version: 1,
  procedure: 66,
  type: MessageType.call,
  serial: 7,
  status: MessageStatus.ok,
};

describe("libvirt message framing", () => {
  it("writes the length (counting itself), the six header words, then the body", () => {
    const m = encodeMessage(header, Buffer.from([1, 2, 3, 4]));
    expect(m.toString("hex")).toBe(
      "00000020" + "20008086" + "00000001" + "00000042" + "00000000" + "00000007" + "00000000" + "01020304",
    );
    expect(decodeHeader(m.subarray(4))).toEqual({ header, body: Buffer.from([1, 2, 3, 4]) });
  });

  it("splits a byte stream into messages however it is chunked", () => {
    const a = encodeMessage(header, Buffer.from("aaaa"));
    const b = encodeMessage({ ...header, serial: 8 }, Buffer.alloc(0));
    const c = encodeMessage(
      { ...header, serial: 9, type: MessageType.stream, status: MessageStatus.continue },
      Buffer.alloc(1000, 7),
    );
    const all = Buffer.concat([a, b, c]);
    for (const size of [1, 3, 5, 28, 1000, all.length]) {
      const d = new FrameDecoder();
      const frames: Buffer[] = [];
      for (let i = 0; i < all.length; i += size) frames.push(...d.push(all.subarray(i, i + size)));
      expect(frames.map((f) => decodeHeader(f).header.serial)).toEqual([7, 8, 9]);
      expect(decodeHeader(frames[2]!).body.length).toBe(1000);
    }
  });

  it("rejects a length no message can have", () => {
    expect(() => new FrameDecoder().push(Buffer.from("00000008000000000000000000000000", "hex"))).toThrow(XdrError);
    expect(() => new FrameDecoder().push(Buffer.from("7fffffff", "hex"))).toThrow(/impossible/);
  });
});
