// The agent proxy: serves each sandbox's agent socket to the Kata shim and relays the agent
// protocol, frame by frame and undecoded, to the forwarder in the sandbox's peer VM over
// mutual TLS. When the VM cannot be reached every call gets an UNAVAILABLE answer naming the
// cause, and the shim's connection, which it never redials, stays up.
export { AgentProxy, SANDBOX_STOPPED, type AgentProxyOptions, type RelayDirection } from "./agent-proxy.ts";
export { formatAddress, type ForwarderAddress } from "./forwarder-address.ts";
export { tlsConnectOptions, type ProxyTls } from "./proxy-tls.ts";
export { waitForForwarder, type WaitForForwarderOptions } from "./wait-for-forwarder.ts";
