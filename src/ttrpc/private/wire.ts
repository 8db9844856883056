// Minimal protobuf wire helpers for the ttrpc envelope. The envelope sits on every call's hot
// path, so it is encoded straight into the outgoing frame buffer and decoded without copying
// the payload; the generated message code is used for payloads only.

export const WireType = { Varint: 0, Fixed64: 1, Bytes: 2, Fixed32: 5 } as const;

export function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    size++;
  }
  return size;
}

/** Size of a non-negative int64 or of a negative one (ten bytes in two's complement). */
export function int64Size(value: number): number {
  return value < 0 ? 10 : varintSize(value);
}

export function writeVarint(buf: Uint8Array, pos: number, value: number): number {
  while (value >= 0x80) {
    buf[pos++] = (value % 128) | 0x80;
    value = Math.floor(value / 128);
  }
  buf[pos++] = value;
  return pos;
}

export function writeInt64(buf: Uint8Array, pos: number, value: number): number {
  if (value >= 0) return writeVarint(buf, pos, value);
  let v = BigInt.asUintN(64, BigInt(Math.trunc(value)));
  for (let i = 0; i < 9; i++) {
    buf[pos++] = Number(v & 0x7fn) | 0x80;
    v >>= 7n;
  }
  buf[pos++] = Number(v);
  return pos;
}

export class WireFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WireFormatError";
  }
}

/** A forward-only reader over one message's bytes. */
export class WireReader {
  pos: number;
  readonly end: number;
  readonly buf: Uint8Array;

  constructor(buf: Uint8Array, start = 0, end = buf.length) {
    this.buf = buf;
    this.pos = start;
    this.end = end;
  }

  done(): boolean {
    return this.pos >= this.end;
  }

  /** Reads an unsigned varint of up to 64 bits as a number (precision beyond 2^53 is not needed
   * here: the values are lengths, codes and nanosecond timeouts). */
  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new WireFormatError("truncated varint");
      const byte = this.buf[this.pos++]!;
      result += (byte & 0x7f) * scale;
      if (byte < 0x80) return result;
      scale *= 128;
    }
    throw new WireFormatError("varint longer than 10 bytes");
  }

  int64(): number {
    const start = this.pos;
    const v = this.varint();
    if (v < Number.MAX_SAFE_INTEGER) return v;
    // Beyond 2^53 (negative numbers are ten-byte two's complement) read exactly, then round.
    this.pos = start;
    let big = 0n;
    let shift = 0n;
    for (;;) {
      const byte = this.buf[this.pos++]!;
      big |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) break;
      shift += 7n;
    }
    return Number(BigInt.asIntN(64, big));
  }

  int32(): number {
    return this.varint() | 0;
  }

  tag(): { field: number; wireType: number } {
    const key = this.varint();
    const field = Math.floor(key / 8);
    if (field === 0) throw new WireFormatError("field number 0");
    return { field, wireType: key & 7 };
  }

  /** A length-delimited field, as a view on the original bytes. */
  bytes(): Uint8Array {
    const len = this.varint();
    const start = this.pos;
    if (len > this.end - start) throw new WireFormatError("length-delimited field runs past the message");
    this.pos = start + len;
    return this.buf.subarray(start, this.pos);
  }

  string(): string {
    const b = this.bytes();
    return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("utf8");
  }

  skip(wireType: number): void {
    switch (wireType) {
      case WireType.Varint:
        this.varint();
        return;
      case WireType.Fixed64:
        this.advance(8);
        return;
      case WireType.Bytes:
        this.bytes();
        return;
      case WireType.Fixed32:
        this.advance(4);
        return;
      default:
        throw new WireFormatError(`unsupported wire type ${wireType}`);
    }
  }

  expect(wireType: number, actual: number, field: string): void {
    if (wireType !== actual) throw new WireFormatError(`field ${field} has wire type ${actual}, expected ${wireType}`);
  }

  private advance(n: number): void {
    if (n > this.end - this.pos) throw new WireFormatError("truncated fixed-width field");
    this.pos += n;
  }
}
