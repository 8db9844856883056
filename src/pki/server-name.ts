// The name a peer VM's server certificate carries and the daemon checks when it dials the VM.
//
// A VM's IP address is usually unknown when its certificate is issued (the certificate travels
// in the VM's user-data, before the cloud assigns an address), and cloud IPs are reused: a
// certificate bound only to "any VM of ours" would let the proxy of one pod talk to another
// pod's VM that inherited an old address. So each VM certificate carries a DNS name derived
// from its sandbox id, and the proxy dials with `servername` set to that name: only the VM
// created for that sandbox passes. The name never goes to a DNS server; it is a label for TLS.

import { sha256Hex } from "../util/sha256-hex.ts";

/** Suffix of every peer VM name; ".invalid" is reserved (RFC 2606) and never resolves. */
export const PEER_VM_NAME_SUFFIX = "peerpod.invalid";

/** The TLS server name of the VM for a sandbox, e.g. "vm-3f2a…c1.peerpod.invalid". */
export function peerVmServerName(sandboxId: string): string {
  if (sandboxId === "") throw new TypeError("sandbox id must not be empty");
  // Sandbox ids are 64 hex characters, longer than a DNS label allows (63); a digest keeps the
  // name short, valid for any id, and still unique per sandbox.
  const digest = sha256Hex(sandboxId).slice(0, 40);
  return `vm-${digest}.${PEER_VM_NAME_SUFFIX}`;
}

/** The TLS server name of an unclaimed warm-pool VM (its identity until a claim gives it a
 * sandbox's certificate), e.g. "pool-9b1e…04.peerpod.invalid". */
export function poolVmServerName(poolVm: string): string {
  if (poolVm === "") throw new TypeError("pool VM name must not be empty");
  const digest = sha256Hex(poolVm).slice(0, 40);
  return `pool-${digest}.${PEER_VM_NAME_SUFFIX}`;
}
