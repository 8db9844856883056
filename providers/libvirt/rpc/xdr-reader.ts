// XDR decoding with bounds checks: a short or malformed message throws XdrError instead of
// reading past the payload or allocating what a hostile length asks for.

export class XdrError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "XdrError";
  }
}

export class XdrReader {
  private readonly buf: Buffer;
  private pos: number;

  constructor(buf: Buffer, offset = 0) {
    this.buf = buf;
    this.pos = offset;
  }

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  int(): number {
    const v = this.need(4).readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  uint(): number {
    const v = this.need(4).readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  hyper(): bigint {
    const v = this.need(8).readBigInt64BE(this.pos);
    this.pos += 8;
    return v;
  }

  uhyper(): bigint {
    const v = this.need(8).readBigUInt64BE(this.pos);
    this.pos += 8;
    return v;
  }

  bool(): boolean {
    const v = this.int();
    if (v !== 0 && v !== 1) throw new XdrError(`XDR boolean must be 0 or 1, got ${v}`);
    return v === 1;
  }

  fixedOpaque(size: number): Buffer {
    const padded = (size + 3) & ~3;
    this.need(padded);
    const out = Buffer.from(this.buf.subarray(this.pos, this.pos + size));
    this.pos += padded;
    return out;
  }

  opaque(max = Number.MAX_SAFE_INTEGER): Buffer {
    const n = this.uint();
    if (n > max) throw new XdrError(`XDR opaque of ${n} bytes exceeds its limit of ${max}`);
    return this.fixedOpaque(n);
  }

  string(max?: number): string {
    return this.opaque(max).toString("utf8");
  }

  optional<T>(read: (r: this) => T): T | undefined {
    return this.bool() ? read(this) : undefined;
  }

  array<T>(read: (r: this) => T, max = Number.MAX_SAFE_INTEGER): T[] {
    const n = this.uint();
    if (n > max) throw new XdrError(`XDR array of ${n} items exceeds its limit of ${max}`);
    // Each item takes at least four bytes: a count larger than the rest of the message is a lie.
    if (n > this.remaining / 4)
      throw new XdrError(`XDR array claims ${n} items but only ${this.remaining} bytes remain`);
    const out: T[] = [];
    for (let i = 0; i < n; i++) out.push(read(this));
    return out;
  }

  /** Everything left, as stream data. */
  rest(): Buffer {
    const out = this.buf.subarray(this.pos);
    this.pos = this.buf.length;
    return out;
  }

  private need(n: number): Buffer {
    if (this.pos + n > this.buf.length)
      throw new XdrError(
        `XDR message truncated: needs ${n} bytes at offset ${this.pos}, has ${this.buf.length - this.pos}`,
      );
    return this.buf;
  }
}
