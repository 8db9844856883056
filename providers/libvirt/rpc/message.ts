// libvirt's RPC message: a 4-byte length (counting itself), a 24-byte header, then the
// payload (XDR arguments, results, an error, or raw stream bytes).
import { XdrError, XdrReader } from "./xdr-reader.ts";
import { XdrWriter } from "./xdr-writer.ts";

export const REMOTE_PROGRAM = 0x20008086;
export const REMOTE_PROTOCOL_VERSION = 1;

export const MessageType = {
  call: 0,
  reply: 1,
  message: 2,
  stream: 3,
  callWithFds: 4,
  replyWithFds: 5,
  streamHole: 6,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

export const MessageStatus = { ok: 0, error: 1, continue: 2 } as const;
export type MessageStatus = (typeof MessageStatus)[keyof typeof MessageStatus];

export const HEADER_BYTES = 24;
/** Largest whole message libvirtd accepts or sends (length word not counted). */
export const MESSAGE_MAX = 16 * 1024 * 1024;
/** Stream data per message: what libvirt's own client sends, and every server accepts. */
export const STREAM_CHUNK_MAX = 256 * 1024 - HEADER_BYTES;

export interface MessageHeader {
  readonly program: number;
  readonly version: number;
  readonly procedure: number;
  readonly type: number;
  readonly serial: number;
  readonly status: number;
}

export interface Message {
  readonly header: MessageHeader;
  /** The payload, after the header. */
  readonly body: Buffer;
}

/** One framed message ready for the wire. */
export function encodeMessage(header: MessageHeader, body: Uint8Array = new Uint8Array(0)): Buffer {
  const total = 4 + HEADER_BYTES + body.length;
  if (total - 4 > MESSAGE_MAX)
    throw new RangeError(`libvirt message of ${total - 4} bytes exceeds the ${MESSAGE_MAX}-byte limit`);
  const w = new XdrWriter(total);
  w.uint(total)
    .uint(header.program)
    .uint(header.version)
    .int(header.procedure)
    .int(header.type)
    .uint(header.serial)
    .int(header.status);
  w.raw(body, false);
  return Buffer.from(w.bytes());
}

export function decodeHeader(frame: Buffer): Message {
  if (frame.length < HEADER_BYTES)
    throw new XdrError(`libvirt message of ${frame.length} bytes is shorter than its header`);
  const r = new XdrReader(frame);
  const header = {
    program: r.uint(),
    version: r.uint(),
    procedure: r.int(),
    type: r.int(),
    serial: r.uint(),
    status: r.int(),
  };
  return { header, body: frame.subarray(HEADER_BYTES) };
}

/**
 * Splits a byte stream into messages (without their length word). Throws on a length that
 * cannot be right, since the stream can then never be resynchronised.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;

  push(chunk: Buffer): Buffer[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const frames: Buffer[] = [];
    for (;;) {
      if (this.buffered < 4) break;
      const head = this.peek(4);
      const total = head.readUInt32BE(0);
      if (total < 4 + HEADER_BYTES || total - 4 > MESSAGE_MAX)
        throw new XdrError(`libvirt message length ${total} is impossible`);
      if (this.buffered < total) break;
      const whole = this.take(total);
      frames.push(whole.subarray(4));
    }
    return frames;
  }

  private peek(n: number): Buffer {
    if (this.chunks[0]!.length < n) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0]!.subarray(0, n);
  }

  private take(n: number): Buffer {
    if (this.chunks[0]!.length < n) this.chunks = [Buffer.concat(this.chunks)];
    const first = this.chunks[0]!;
    const out = first.subarray(0, n);
    if (first.length === n) this.chunks.shift();
    else this.chunks[0] = first.subarray(n);
    this.buffered -= n;
    return out;
  }
}
