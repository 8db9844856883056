// The pod network tunnel: VXLAN between a pod's network namespace on the worker node and the
// namespace its containers run in inside the peer VM.
//
// Devices, addresses, routes and tc filters are made by running iproute2's `ip` and `tc`
// (with JSON output where we read state back) rather than by speaking netlink ourselves:
// Node has no well-kept netlink library, and iproute2 is what operators use to inspect and
// debug this same state, so every step here can be replayed by hand from an error message.
export { missingTunnelCapabilities } from "./capabilities.ts";
export { MAX_TUNNEL_MTU, MIN_TUNNEL_MTU, tunnelMtu, VXLAN_OVERHEAD } from "./mtu.ts";
export { findNodeAddress, type NodeAddress } from "./node-address.ts";
export { DEFAULT_POD_NETNS, podNetnsPath, setupVmTunnel, teardownVmTunnel, type VmTunnelOptions } from "./vm-tunnel.ts";
export { vxlanDeviceName } from "./vxlan-device.ts";
export { WorkerTunnels, type WorkerTunnelsOptions } from "./worker-tunnels.ts";
