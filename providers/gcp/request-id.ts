// Compute Engine's request id: a UUID that makes a repeated insert or delete return the
// operation of the first one (for at least an hour) instead of acting twice. Derived from the
// VM token the daemon records before calling, and the machine type, so a retry after a lost
// answer or a crash sends the same id, while each fallback type gets its own.
import { randomUUID } from "node:crypto";
import { sha256Hex } from "../../src/util/sha256-hex.ts";

export function requestIdFor(token: string, machineType: string): string {
  const h = sha256Hex(`${token}/${machineType}`);
  // Shaped as a name-based UUID (version 5, RFC 4122 variant).
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** A fresh id for a delete: repeated within one call, never across calls. */
export function freshRequestId(): string {
  return randomUUID();
}
