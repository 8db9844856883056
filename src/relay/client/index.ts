// The control plane's side of peerpod-relay: the client that drives it over its control socket,
// the sandbox manager's relays served through it, and starting one when none runs.
export { RelayClient, type RelayClientOptions, type RelayHello } from "./relay-client.ts";
export { RemoteRelays, type RemoteRelaysOptions, type SyncReport } from "./remote-relays.ts";
export { RELAY_BIN, RELAY_NODE_FLAGS, type StartRelayOptions, startDetachedRelay } from "./start-relay.ts";
