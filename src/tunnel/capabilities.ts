// Tunnels are made with netlink calls that need CAP_NET_ADMIN, and entering a pod's network
// namespace (setns) needs CAP_SYS_ADMIN. Checking up front turns iproute2's terse
// "Operation not permitted" into a message that says what to change.
import { readFileSync } from "node:fs";

const CAP_NET_ADMIN = 12;
const CAP_SYS_ADMIN = 21;

/** Names of the needed capabilities missing from a /proc/<pid>/status text's effective set. */
export function missingTunnelCapabilities(procStatus: string): string[] {
  const m = /^CapEff:\s*([0-9a-fA-F]+)\s*$/m.exec(procStatus);
  if (m === null) throw new Error("cannot read the effective capabilities (no CapEff line in /proc/self/status)");
  const effective = BigInt(`0x${m[1]}`);
  const missing: string[] = [];
  if ((effective & (1n << BigInt(CAP_NET_ADMIN))) === 0n) missing.push("CAP_NET_ADMIN");
  if ((effective & (1n << BigInt(CAP_SYS_ADMIN))) === 0n) missing.push("CAP_SYS_ADMIN");
  return missing;
}

export function requireTunnelCapabilities(): void {
  const missing = missingTunnelCapabilities(readFileSync("/proc/self/status", "utf8"));
  if (missing.length > 0) {
    throw new Error(
      `pod network tunnels need ${missing.join(" and ")} (CAP_NET_ADMIN to create vxlan devices and tc filters, ` +
        "CAP_SYS_ADMIN to enter network namespaces): run as root or grant them",
    );
  }
}
