// agent-protocol-forwarder: the peer VM's end of the agent protocol relay.

export { type AgentConnectOptions, connectAgent } from "./agent-connect.ts";
export { type ForwarderHandle, type ForwarderOptions, startForwarder } from "./forwarder.ts";
export { type ForwarderTlsMaterial, forwarderTlsOptions } from "./forwarder-tls.ts";
export { type RunForwarderOptions, type RunningForwarder, runForwarder } from "./run-forwarder.ts";
