import { describe, expect, it } from "vitest";
import { HEADER_LENGTH } from "./constants.ts";
import { encodeFrame, type Frame, FrameDecoder, type FrameHeader, readHeader } from "./frame.ts";

function collect(decoder: FrameDecoder, chunks: Buffer[]) {
  const frames: Frame[] = [];
  const oversized: FrameHeader[] = [];
  for (const c of chunks) decoder.push(c, { frame: (f) => frames.push(f), oversized: (h) => oversized.push(h) });
  return { frames, oversized };
}

describe("frame header", () => {
  it("matches the documented Version example bytes", () => {
    const header = readHeader(Buffer.from("00000029000000010100", "hex"));
    expect(header).toEqual({ length: 0x29, streamId: 1, type: 1, flags: 0 });
  });

  it("encodes big-endian length and stream id", () => {
    const buf = encodeFrame({ streamId: 0x01020304, type: 2, flags: 4, data: Buffer.from("abc") });
    expect(buf.subarray(0, HEADER_LENGTH).toString("hex")).toBe("00000003010203040204");
    expect(buf.subarray(HEADER_LENGTH).toString()).toBe("abc");
  });
});

describe("FrameDecoder", () => {
  const a = encodeFrame({ streamId: 1, type: 1, flags: 0, data: Buffer.from("hello") });
  const b = encodeFrame({ streamId: 3, type: 1, flags: 0, data: Buffer.alloc(0) });
  const c = encodeFrame({ streamId: 5, type: 2, flags: 0, data: Buffer.alloc(70_000, 7) });
  const all = Buffer.concat([a, b, c]);

  it("cuts frames out of one chunk", () => {
    const { frames } = collect(new FrameDecoder(), [all]);
    expect(frames.map((f) => [f.streamId, f.type, f.data.length])).toEqual([
      [1, 1, 5],
      [3, 1, 0],
      [5, 2, 70_000],
    ]);
  });

  it("gives the same frames whatever the chunking, byte by byte included", () => {
    const single = collect(new FrameDecoder(), [all]).frames;
    for (const size of [1, 3, 9, 10, 11, 4096]) {
      const chunks: Buffer[] = [];
      for (let i = 0; i < all.length; i += size) chunks.push(all.subarray(i, i + size));
      const decoder = new FrameDecoder();
      const { frames } = collect(decoder, chunks);
      expect(frames.map((f) => Buffer.from(f.data).toString("hex"))).toEqual(
        single.map((f) => Buffer.from(f.data).toString("hex")),
      );
      expect(decoder.buffered).toBe(0);
      expect(decoder.partial).toBe(false);
    }
  });

  it("skips an oversized frame without buffering it and keeps decoding after it", () => {
    const decoder = new FrameDecoder(16);
    const big = encodeFrame({ streamId: 7, type: 1, flags: 0, data: Buffer.alloc(100, 1) });
    const chunks = [big.subarray(0, 12), big.subarray(12, 50), Buffer.concat([big.subarray(50), a])];
    const { frames, oversized } = collect(decoder, chunks);
    expect(oversized).toEqual([{ length: 100, streamId: 7, type: 1, flags: 0 }]);
    expect(frames).toHaveLength(1);
    expect(frames[0]!.streamId).toBe(1);
  });

  it("reports a 4 GiB length claim at once and holds nothing for it", () => {
    const decoder = new FrameDecoder();
    const { oversized } = collect(decoder, [Buffer.from("ffffffff000000010100", "hex"), Buffer.alloc(1 << 16)]);
    expect(oversized[0]!.length).toBe(0xffffffff);
    expect(decoder.buffered).toBe(0);
  });
});
