// Wire constants of the ttrpc protocol, as containerd/ttrpc and the Rust ttrpc crate define them.

/** Every message starts with a fixed header: length(4) stream id(4) type(1) flags(1), big-endian. */
export const HEADER_LENGTH = 10;

/** Largest data section a peer accepts (4 MiB). Larger messages are discarded and answered
 * RESOURCE_EXHAUSTED on their stream; the connection stays usable. */
export const MAX_DATA_LENGTH = 4 << 20;

/** Largest stream id; client ids are odd and strictly increasing, so a connection runs out
 * after about two billion calls and must be replaced. */
export const MAX_STREAM_ID = 0xffff_ffff;

export const MessageType = {
  Request: 1,
  Response: 2,
  Data: 3,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/** Flags of request and data messages. A unary request carries none: any flag means a stream. */
export const Flags = {
  RemoteClosed: 0x1,
  RemoteOpen: 0x2,
  NoData: 0x4,
} as const;
