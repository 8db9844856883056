// XDR encoding (RFC 4506) as libvirt's RPC uses it: big-endian 4-byte units, strings and
// opaques padded to a multiple of four, optional values as a boolean then the value.

export class XdrWriter {
  private buf: Buffer;
  private len = 0;

  constructor(initialSize = 256) {
    this.buf = Buffer.alloc(initialSize);
  }

  get length(): number {
    return this.len;
  }

  /** The bytes written so far (a view: copy it before writing more). */
  bytes(): Buffer {
    return this.buf.subarray(0, this.len);
  }

  int(v: number): this {
    if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) throw new RangeError(`XDR int out of range: ${v}`);
    this.room(4).writeInt32BE(v, this.len);
    this.len += 4;
    return this;
  }

  uint(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`XDR unsigned int out of range: ${v}`);
    this.room(4).writeUInt32BE(v, this.len);
    this.len += 4;
    return this;
  }

  hyper(v: bigint): this {
    this.room(8).writeBigInt64BE(v, this.len);
    this.len += 8;
    return this;
  }

  uhyper(v: bigint): this {
    this.room(8).writeBigUInt64BE(v, this.len);
    this.len += 8;
    return this;
  }

  bool(v: boolean): this {
    return this.int(v ? 1 : 0);
  }

  /** Fixed-length opaque: exactly `size` bytes, padded. */
  fixedOpaque(data: Uint8Array, size: number): this {
    if (data.length !== size) throw new RangeError(`XDR fixed opaque needs ${size} bytes, got ${data.length}`);
    return this.raw(data);
  }

  /** Variable-length opaque: length, bytes, padding. */
  opaque(data: Uint8Array): this {
    this.uint(data.length);
    return this.raw(data);
  }

  string(s: string): this {
    return this.opaque(Buffer.from(s, "utf8"));
  }

  /** An XDR optional (pointer): absent, or present followed by the value. */
  optional<T>(v: T | undefined | null, write: (w: this, value: T) => void): this {
    if (v === undefined || v === null) return this.bool(false);
    this.bool(true);
    write(this, v);
    return this;
  }

  array<T>(items: readonly T[], write: (w: this, item: T) => void): this {
    this.uint(items.length);
    for (const item of items) write(this, item);
    return this;
  }

  /** Bytes without a length prefix (stream payloads), padded only when `pad`. */
  raw(data: Uint8Array, pad = true): this {
    const padded = pad ? (data.length + 3) & ~3 : data.length;
    const b = this.room(padded);
    b.set(data, this.len);
    b.fill(0, this.len + data.length, this.len + padded);
    this.len += padded;
    return this;
  }

  private room(n: number): Buffer {
    if (this.len + n > this.buf.length) {
      let size = this.buf.length * 2;
      while (size < this.len + n) size *= 2;
      const next = Buffer.alloc(size);
      this.buf.copy(next, 0, 0, this.len);
      this.buf = next;
    }
    return this.buf;
  }
}
