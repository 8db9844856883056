// The protobuf-free part of ttrpc: framing, envelopes, raw client and server. index.ts adds the
// typed API on top. A second face on purpose: peerpod-relay loads only this, since the protobuf
// runtime alone would cost it some 20 MiB of resident memory.

export type { CallContext } from "./call-context.ts";
export { Code, codeName } from "./codes.ts";
export { Flags, HEADER_LENGTH, MAX_DATA_LENGTH, MessageType } from "./constants.ts";
export {
  decodeRequest,
  decodeResponse,
  encodeRequestFrame,
  encodeResponseFrame,
  encodeStatusFrame,
  type KeyValue,
  type RequestEnvelope,
  type ResponseEnvelope,
  type Status,
} from "./envelope.ts";
export { encodeFrame, type Frame, FrameDecoder, type FrameHeader, type FrameSink, readHeader } from "./frame.ts";
export { type CallOptions, type ClientOptions, connectUnix, RawClient } from "./raw-client.ts";
export { RawServer, type ServerOptions } from "./raw-server.ts";
export type { RawHandler } from "./service-registry.ts";
export { TtrpcError, toTtrpcError } from "./ttrpc-error.ts";
export { listenUnix, type UnixListenOptions } from "./unix-listener.ts";
