// ttrpc: containerd's lightweight RPC over stream sockets, wire-compatible with the Go and Rust
// implementations. Knows nothing of Kata.
export { Server, type ServerOptions } from "./server.ts";
export { Client, type CallOptions, type ClientOptions } from "./client.ts";
export { listenUnix, type UnixListenOptions } from "./unix-listener.ts";
export type { CallContext } from "./call-context.ts";
export type { RawHandler, ServiceImpl } from "./service-registry.ts";
export { Code, codeName } from "./codes.ts";
export { TtrpcError, toTtrpcError } from "./ttrpc-error.ts";
export { Flags, HEADER_LENGTH, MAX_DATA_LENGTH, MessageType } from "./constants.ts";
export { FrameDecoder, encodeFrame, readHeader, type Frame, type FrameHeader, type FrameSink } from "./frame.ts";
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
