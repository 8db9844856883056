import { randomBytes } from "node:crypto";

/**
 * A random 128-bit certificate serial number as hex. The top bit is cleared so the DER INTEGER
 * is positive, and the first byte is non-zero so its encoding is exactly 16 bytes.
 */
export function randomSerialNumber(): string {
  const bytes = randomBytes(16);
  const first = (bytes[0] ?? 0) & 0x7f;
  bytes[0] = first === 0 ? 1 : first;
  return bytes.toString("hex");
}
