// The protobuf envelopes every ttrpc message carries:
//   Request  { service=1 string, method=2 string, payload=3 bytes, timeout_nano=4 int64,
//              metadata=5 repeated KeyValue{ key=1, value=2 } }
//   Response { status=1 google.rpc.Status{ code=1 int32, message=2 string, details=3 repeated Any },
//              payload=2 bytes }
// Each is encoded straight behind its frame header, so a call costs one buffer and one write.
import { HEADER_LENGTH, MessageType } from "./constants.ts";
import { writeHeader } from "./frame.ts";
import { int64Size, varintSize, WireReader, WireType, writeInt64, writeVarint } from "./private/wire.ts";

export interface KeyValue {
  readonly key: string;
  readonly value: string;
}

export interface RequestEnvelope {
  readonly service: string;
  readonly method: string;
  readonly payload: Uint8Array;
  /** 0 means no deadline. */
  readonly timeoutNano: number;
  readonly metadata: readonly KeyValue[];
}

export interface Status {
  readonly code: number;
  readonly message: string;
  /** google.protobuf.Any messages, kept encoded. */
  readonly details: readonly Uint8Array[];
}

export interface ResponseEnvelope {
  /** Absent means OK: the Go server omits the status on success. */
  readonly status: Status | undefined;
  readonly payload: Uint8Array;
}

const TAG = (field: number, wireType: number) => field * 8 + wireType;

function bytesFieldSize(field: number, len: number): number {
  return varintSize(TAG(field, WireType.Bytes)) + varintSize(len) + len;
}

export function encodeRequestFrame(streamId: number, req: RequestEnvelope, flags = 0): Buffer {
  const serviceLen = Buffer.byteLength(req.service);
  const methodLen = Buffer.byteLength(req.method);
  let size = bytesFieldSize(1, serviceLen) + bytesFieldSize(2, methodLen);
  if (req.payload.length > 0) size += bytesFieldSize(3, req.payload.length);
  if (req.timeoutNano !== 0) size += 1 + int64Size(req.timeoutNano);
  const kvSizes: number[] = [];
  for (const kv of req.metadata) {
    const inner = bytesFieldSize(1, Buffer.byteLength(kv.key)) + bytesFieldSize(2, Buffer.byteLength(kv.value));
    kvSizes.push(inner);
    size += bytesFieldSize(5, inner);
  }
  const out = Buffer.allocUnsafe(HEADER_LENGTH + size);
  writeHeader(out, 0, size, streamId, MessageType.Request, flags);
  let pos = HEADER_LENGTH;
  pos = writeString(out, pos, 1, req.service, serviceLen);
  pos = writeString(out, pos, 2, req.method, methodLen);
  if (req.payload.length > 0) pos = writeBytes(out, pos, 3, req.payload);
  if (req.timeoutNano !== 0) {
    out[pos++] = TAG(4, WireType.Varint);
    pos = writeInt64(out, pos, req.timeoutNano);
  }
  req.metadata.forEach((kv, i) => {
    out[pos++] = TAG(5, WireType.Bytes);
    pos = writeVarint(out, pos, kvSizes[i]!);
    pos = writeString(out, pos, 1, kv.key, Buffer.byteLength(kv.key));
    pos = writeString(out, pos, 2, kv.value, Buffer.byteLength(kv.value));
  });
  return out;
}

export function decodeRequest(data: Uint8Array): RequestEnvelope {
  const r = new WireReader(data);
  let service = "";
  let method = "";
  let payload: Uint8Array = EMPTY;
  let timeoutNano = 0;
  const metadata: KeyValue[] = [];
  while (!r.done()) {
    const { field, wireType } = r.tag();
    switch (field) {
      case 1:
        r.expect(WireType.Bytes, wireType, "service");
        service = r.string();
        break;
      case 2:
        r.expect(WireType.Bytes, wireType, "method");
        method = r.string();
        break;
      case 3:
        r.expect(WireType.Bytes, wireType, "payload");
        payload = r.bytes();
        break;
      case 4:
        r.expect(WireType.Varint, wireType, "timeout_nano");
        timeoutNano = r.int64();
        break;
      case 5: {
        r.expect(WireType.Bytes, wireType, "metadata");
        metadata.push(decodeKeyValue(r.bytes()));
        break;
      }
      default:
        r.skip(wireType);
    }
  }
  return { service, method, payload, timeoutNano, metadata };
}

function decodeKeyValue(data: Uint8Array): KeyValue {
  const r = new WireReader(data);
  let key = "";
  let value = "";
  while (!r.done()) {
    const { field, wireType } = r.tag();
    if (field === 1 && wireType === WireType.Bytes) key = r.string();
    else if (field === 2 && wireType === WireType.Bytes) value = r.string();
    else r.skip(wireType);
  }
  return { key, value };
}

export function encodeResponseFrame(streamId: number, resp: ResponseEnvelope): Buffer {
  let size = 0;
  let statusSize = 0;
  let messageLen = 0;
  const st = resp.status;
  if (st !== undefined) {
    messageLen = Buffer.byteLength(st.message);
    if (st.code !== 0) statusSize += 1 + int64Size(st.code);
    if (messageLen > 0) statusSize += bytesFieldSize(2, messageLen);
    for (const d of st.details) statusSize += bytesFieldSize(3, d.length);
    size += bytesFieldSize(1, statusSize);
  }
  if (resp.payload.length > 0) size += bytesFieldSize(2, resp.payload.length);
  const out = Buffer.allocUnsafe(HEADER_LENGTH + size);
  writeHeader(out, 0, size, streamId, MessageType.Response, 0);
  let pos = HEADER_LENGTH;
  if (st !== undefined) {
    out[pos++] = TAG(1, WireType.Bytes);
    pos = writeVarint(out, pos, statusSize);
    if (st.code !== 0) {
      out[pos++] = TAG(1, WireType.Varint);
      pos = writeInt64(out, pos, st.code);
    }
    if (messageLen > 0) pos = writeString(out, pos, 2, st.message, messageLen);
    for (const d of st.details) pos = writeBytes(out, pos, 3, d);
  }
  if (resp.payload.length > 0) pos = writeBytes(out, pos, 2, resp.payload);
  return out;
}

export function decodeResponse(data: Uint8Array): ResponseEnvelope {
  const r = new WireReader(data);
  let status: Status | undefined;
  let payload: Uint8Array = EMPTY;
  while (!r.done()) {
    const { field, wireType } = r.tag();
    if (field === 1) {
      r.expect(WireType.Bytes, wireType, "status");
      status = decodeStatus(r.bytes());
    } else if (field === 2) {
      r.expect(WireType.Bytes, wireType, "payload");
      payload = r.bytes();
    } else {
      r.skip(wireType);
    }
  }
  return { status, payload };
}

function decodeStatus(data: Uint8Array): Status {
  const r = new WireReader(data);
  let code = 0;
  let message = "";
  const details: Uint8Array[] = [];
  while (!r.done()) {
    const { field, wireType } = r.tag();
    if (field === 1 && wireType === WireType.Varint) code = r.int32();
    else if (field === 2 && wireType === WireType.Bytes) message = r.string();
    else if (field === 3 && wireType === WireType.Bytes) details.push(r.bytes());
    else r.skip(wireType);
  }
  return { code, message, details };
}

/** A response frame carrying only an error status: what a relay answers on its own. */
export function encodeStatusFrame(streamId: number, code: number, message: string): Buffer {
  return encodeResponseFrame(streamId, { status: { code, message, details: [] }, payload: EMPTY });
}

const EMPTY = new Uint8Array(0);

function writeString(out: Buffer, pos: number, field: number, s: string, len: number): number {
  out[pos++] = TAG(field, WireType.Bytes);
  pos = writeVarint(out, pos, len);
  return pos + out.write(s, pos, len, "utf8");
}

function writeBytes(out: Buffer, pos: number, field: number, b: Uint8Array): number {
  out[pos++] = TAG(field, WireType.Bytes);
  pos = writeVarint(out, pos, b.length);
  out.set(b, pos);
  return pos + b.length;
}
