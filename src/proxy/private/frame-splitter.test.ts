import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encodeFrame, type FrameHeader } from "../../ttrpc/index.ts";
import { FrameSplitter } from "./frame-splitter.ts";

interface Out {
  frames: { header: FrameHeader; bytes: Buffer; pieces: number }[];
  oversized: FrameHeader[];
}

function split(chunks: Buffer[], max?: number): Out {
  const out: Out = { frames: [], oversized: [] };
  const splitter = new FrameSplitter(max);
  for (const c of chunks)
    splitter.push(c, {
      frame: (header, pieces) => out.frames.push({ header, bytes: Buffer.concat(pieces), pieces: pieces.length }),
      oversized: (header) => out.oversized.push(header),
    });
  return out;
}

/** Cuts a buffer at the given offsets. */
function cut(all: Buffer, offsets: number[]): Buffer[] {
  const points = [...new Set(offsets.map((o) => o % (all.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let prev = 0;
  for (const p of [...points, all.length]) {
    if (p > prev) chunks.push(all.subarray(prev, p));
    prev = p;
  }
  return chunks;
}

const frameArb = fc.record({
  streamId: fc.integer({ min: 0, max: 0xffffffff }),
  type: fc.integer({ min: 0, max: 255 }),
  flags: fc.integer({ min: 0, max: 255 }),
  data: fc.uint8Array({ maxLength: 300 }),
});

describe("FrameSplitter", () => {
  it("gives back every frame byte for byte, however the stream is cut", () => {
    fc.assert(
      fc.property(fc.array(frameArb, { maxLength: 20 }), fc.array(fc.nat(), { maxLength: 30 }), (frames, offsets) => {
        const encoded = frames.map((f) => encodeFrame(f));
        const out = split(cut(Buffer.concat(encoded), offsets));
        expect(out.oversized).toEqual([]);
        expect(out.frames.map((f) => f.bytes)).toEqual(encoded);
        expect(out.frames.map((f) => f.header)).toEqual(
          frames.map((f) => ({ length: f.data.length, streamId: f.streamId, type: f.type, flags: f.flags })),
        );
      }),
    );
  });

  it("skips oversized frames without holding them and carries on with the next", () => {
    fc.assert(
      fc.property(fc.array(frameArb, { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 30 }), (frames, offsets) => {
        const max = 100;
        const out = split(cut(Buffer.concat(frames.map((f) => encodeFrame(f))), offsets), max);
        const small = frames.filter((f) => f.data.length <= max);
        const big = frames.filter((f) => f.data.length > max);
        expect(out.frames.map((f) => f.bytes)).toEqual(small.map((f) => encodeFrame(f)));
        expect(out.oversized.map((h) => h.streamId)).toEqual(big.map((f) => f.streamId));
      }),
    );
  });

  it("hands a frame that arrived in one chunk as a single view of that chunk, without copying", () => {
    const a = encodeFrame({ streamId: 1, type: 2, flags: 0, data: Buffer.alloc(50, 1) });
    const b = encodeFrame({ streamId: 3, type: 2, flags: 0, data: Buffer.alloc(20, 2) });
    const chunk = Buffer.concat([a, b]);
    const views: Buffer[][] = [];
    new FrameSplitter().push(chunk, { frame: (_h, pieces) => views.push(pieces), oversized: () => {} });
    expect(views.map((v) => v.length)).toEqual([1, 1]);
    expect(views[0]![0]!.buffer).toBe(chunk.buffer);
    expect(views[1]![0]!.byteOffset).toBe(chunk.byteOffset + a.length);
  });

  it("reports a frame still arriving as partial", () => {
    const s = new FrameSplitter();
    const f = encodeFrame({ streamId: 1, type: 1, flags: 0, data: Buffer.alloc(10) });
    const sink = { frame: () => {}, oversized: () => {} };
    s.push(f.subarray(0, 4), sink);
    expect(s.partial).toBe(true);
    s.push(f.subarray(4), sink);
    expect(s.partial).toBe(false);
  });
});
