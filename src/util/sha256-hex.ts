// The SHA-256 of a string (UTF-8) or bytes as 64 lower-case hex digits: names, tokens and marks
// derived from an id, and the checksum an operator pins.
import { createHash } from "node:crypto";

export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}
