// MTU rules of the tunnel.
//
// VXLAN over IPv4 adds 50 bytes to each frame: outer IPv4 (20) + UDP (8) + VXLAN (8) + the inner
// Ethernet header (14). The pod's packets travel inside it, so the VM end carries at most
// min(pod MTU, 1450): 1450 fits a standard 1500-byte underlay, as upstream peer pods do.
//
// Floor: CNI sizes a pod's MTU from the node network it rides on, so a pod MTU is also a bound
// on that network. Below 68 (the least MTU IPv4 allows) + 50, not even a minimal IPv4 packet
// wrapped in VXLAN fits a link of that size: such a value is a misconfiguration to report, not
// something to tunnel. The same floor applies to the node interface that carries the tunnel.

export const VXLAN_OVERHEAD = 50;
export const MIN_IPV4_MTU = 68;
export const MIN_TUNNEL_MTU = MIN_IPV4_MTU + VXLAN_OVERHEAD;
export const MAX_TUNNEL_MTU = 1450;

/** The MTU both tunnel ends use for a pod whose interface has `podMtu`. */
export function tunnelMtu(podMtu: number): number {
  return Math.min(podMtu, MAX_TUNNEL_MTU);
}

/** Throws when `mtu` cannot carry IPv4 through VXLAN; `what` names the interface. */
export function checkMtu(mtu: number, what: string): void {
  if (!Number.isInteger(mtu) || mtu < MIN_TUNNEL_MTU) {
    throw new Error(
      `${what} has MTU ${mtu}: a VXLAN tunnel needs at least ${MIN_TUNNEL_MTU} (${MIN_IPV4_MTU}, the IPv4 minimum, plus ${VXLAN_OVERHEAD} bytes of VXLAN headers)`,
    );
  }
}
