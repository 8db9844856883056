// agent-protocol-forwarder: the peer VM's end of the agent protocol relay.
export { startForwarder, type ForwarderHandle, type ForwarderOptions } from "./forwarder.ts";
export { forwarderTlsOptions, type ForwarderTlsMaterial } from "./forwarder-tls.ts";
export { connectAgent, type AgentConnectOptions } from "./agent-connect.ts";
export { runForwarder, type RunForwarderOptions, type RunningForwarder } from "./run-forwarder.ts";
