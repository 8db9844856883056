// Frame-level face of ttrpc: whole messages in and out, payloads left undecoded. The agent
// proxy relays frames with it without understanding the calls they carry.
import { HEADER_LENGTH, MAX_DATA_LENGTH } from "./constants.ts";

export interface FrameHeader {
  /** Length of the data section, as the header claims it. */
  readonly length: number;
  readonly streamId: number;
  readonly type: number;
  readonly flags: number;
}

export interface Frame {
  readonly streamId: number;
  readonly type: number;
  readonly flags: number;
  readonly data: Uint8Array;
}

export function writeHeader(
  buf: Uint8Array,
  pos: number,
  length: number,
  streamId: number,
  type: number,
  flags: number,
): void {
  const view = new DataView(buf.buffer, buf.byteOffset + pos, HEADER_LENGTH);
  view.setUint32(0, length);
  view.setUint32(4, streamId);
  view.setUint8(8, type);
  view.setUint8(9, flags);
}

export function readHeader(buf: Uint8Array, pos = 0): FrameHeader {
  const view = new DataView(buf.buffer, buf.byteOffset + pos, HEADER_LENGTH);
  return { length: view.getUint32(0), streamId: view.getUint32(4), type: view.getUint8(8), flags: view.getUint8(9) };
}

/** Header and data in one buffer, ready for a single write. */
export function encodeFrame(frame: Frame): Buffer {
  const out = Buffer.allocUnsafe(HEADER_LENGTH + frame.data.length);
  writeHeader(out, 0, frame.data.length, frame.streamId, frame.type, frame.flags);
  out.set(frame.data, HEADER_LENGTH);
  return out;
}

export interface FrameSink {
  /** A whole frame within the size limit; `data` may be a view into a received chunk. */
  frame(frame: Frame): void;
  /** A frame over the limit: its data was (or is being) discarded without being buffered. */
  oversized(header: FrameHeader): void;
}

/**
 * Cuts a byte stream into frames. Memory stays bounded by one maximal frame: an oversized
 * frame's data is skipped as it arrives, never held.
 */
export class FrameDecoder {
  private readonly chunks: Buffer[] = [];
  private total = 0;
  private header: FrameHeader | undefined;
  private discarding = 0;
  private readonly maxDataLength: number;

  constructor(maxDataLength = MAX_DATA_LENGTH) {
    this.maxDataLength = maxDataLength;
  }

  /** Bytes received but not yet part of a delivered frame. */
  get buffered(): number {
    return this.total;
  }

  /** True while a frame has started arriving but is not complete. */
  get partial(): boolean {
    return this.total > 0 || this.header !== undefined || this.discarding > 0;
  }

  push(chunk: Buffer, sink: FrameSink): void {
    if (this.discarding > 0) {
      const skip = Math.min(this.discarding, chunk.length);
      this.discarding -= skip;
      chunk = chunk.subarray(skip);
      if (chunk.length === 0) return;
    }
    this.chunks.push(chunk);
    this.total += chunk.length;
    this.drain(sink);
  }

  private drain(sink: FrameSink): void {
    for (;;) {
      if (this.header === undefined) {
        if (this.total < HEADER_LENGTH) return;
        this.header = readHeader(this.take(HEADER_LENGTH));
        if (this.header.length > this.maxDataLength) {
          const header = this.header;
          this.header = undefined;
          const skip = Math.min(header.length, this.total);
          this.take(skip);
          this.discarding = header.length - skip;
          sink.oversized(header);
          if (this.discarding > 0) return;
          continue;
        }
      }
      const { length, streamId, type, flags } = this.header;
      if (this.total < length) return;
      const data = this.take(length);
      this.header = undefined;
      sink.frame({ streamId, type, flags, data });
    }
  }

  /** Removes n buffered bytes; a view when they lie in one chunk, else a copy. */
  private take(n: number): Buffer {
    this.total -= n;
    const first = this.chunks[0];
    if (n === 0) return Buffer.alloc(0);
    if (first !== undefined && first.length >= n) {
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0]!;
      const want = n - filled;
      if (c.length <= want) {
        out.set(c, filled);
        filled += c.length;
        this.chunks.shift();
      } else {
        out.set(c.subarray(0, want), filled);
        this.chunks[0] = c.subarray(want);
        filled += want;
      }
    }
    return out;
  }
}
