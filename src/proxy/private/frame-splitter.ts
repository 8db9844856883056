// Cuts a byte stream at ttrpc frame boundaries without copying it: each whole frame comes out
// as views of the chunks it arrived in (header included), ready to be written on as they are.
// FrameDecoder joins a frame split across chunks into one new buffer, which a relay has no
// use for: a 32 KiB reply arriving as TLS records would be copied once per hop for nothing.
import { type FrameHeader, HEADER_LENGTH, MAX_DATA_LENGTH, readHeader } from "../../ttrpc/raw.ts";

export interface SplitSink {
  /** A whole frame: its header and its bytes (header and data) as views, in order. */
  frame(header: FrameHeader, pieces: Buffer[]): void;
  /** A frame over the size limit: its data is skipped as it arrives, never held. */
  oversized(header: FrameHeader): void;
}

export class FrameSplitter {
  private readonly maxDataLength: number;
  private readonly headerBytes = Buffer.alloc(HEADER_LENGTH);
  private headerFill = 0;
  private header: FrameHeader | undefined;
  /** Data bytes of the current frame still to come. */
  private need = 0;
  /** Data bytes of an oversized frame still to skip. */
  private skip = 0;
  private pieces: Buffer[] = [];

  constructor(maxDataLength = MAX_DATA_LENGTH) {
    this.maxDataLength = maxDataLength;
  }

  /** True while a frame has started arriving but is not complete. */
  get partial(): boolean {
    return this.headerFill > 0 || this.header !== undefined || this.skip > 0;
  }

  push(chunk: Buffer, sink: SplitSink): void {
    let pos = 0;
    const end = chunk.length;
    while (pos < end) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, end - pos);
        this.skip -= n;
        pos += n;
        continue;
      }
      if (this.header === undefined) {
        const n = Math.min(HEADER_LENGTH - this.headerFill, end - pos);
        chunk.copy(this.headerBytes, this.headerFill, pos, pos + n);
        this.add(chunk, pos, n);
        this.headerFill += n;
        pos += n;
        if (this.headerFill < HEADER_LENGTH) return;
        this.headerFill = 0;
        const header = readHeader(this.headerBytes);
        if (header.length > this.maxDataLength) {
          this.pieces = [];
          this.skip = header.length;
          sink.oversized(header);
          continue;
        }
        this.header = header;
        this.need = header.length;
      }
      const n = Math.min(this.need, end - pos);
      if (n > 0) this.add(chunk, pos, n);
      this.need -= n;
      pos += n;
      if (this.need === 0) {
        const header = this.header;
        const pieces = this.pieces;
        this.header = undefined;
        this.pieces = [];
        sink.frame(header, pieces);
      }
    }
  }

  /** Adds chunk[pos, pos+n) to the current frame, merging it with the previous piece when the
   * two are adjacent in memory (the header and data of a frame usually are). */
  private add(chunk: Buffer, pos: number, n: number): void {
    const last = this.pieces[this.pieces.length - 1];
    if (
      last !== undefined &&
      last.buffer === chunk.buffer &&
      last.byteOffset + last.length === chunk.byteOffset + pos
    ) {
      this.pieces[this.pieces.length - 1] = Buffer.from(chunk.buffer, last.byteOffset, last.length + n);
      return;
    }
    this.pieces.push(chunk.subarray(pos, pos + n));
  }
}
