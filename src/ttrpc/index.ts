// ttrpc: containerd's lightweight RPC over stream sockets, wire-compatible with the Go and Rust
// implementations. Knows nothing of Kata. raw.ts is the same without the typed API (and without
// the protobuf runtime it loads).

export { Client } from "./client.ts";
export * from "./raw.ts";
export { Server } from "./server.ts";
export type { ServiceImpl } from "./typed-service.ts";
