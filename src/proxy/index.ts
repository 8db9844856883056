// The agent proxy: serves each sandbox's agent socket to the Kata shim and relays the agent
// protocol, frame by frame and undecoded, to the forwarder in the sandbox's peer VM over
// mutual TLS. When the VM cannot be reached every call gets an UNAVAILABLE answer naming the
// cause, and the shim's connection, which it never redials, stays up.
export { AgentProxy, type AgentProxyOptions, type RelayDirection, SANDBOX_STOPPED } from "./agent-proxy.ts";
export { type ForwarderAddress, formatAddress } from "./forwarder-address.ts";
export { type ProxyTls, proxySecureContext, tlsConnectOptions } from "./proxy-tls.ts";
export { type WaitForForwarderOptions, waitForForwarder } from "./wait-for-forwarder.ts";
