// How a failed dial of a forwarder is told apart and described. A refused or timed-out
// connection is "not yet" (the VM is booting); a certificate the other side cannot accept
// will not fix itself, so waiting on it only hides the cause.
import { explainNegotiationFailure, type TlsProfile } from "../../pki/tls-profile.ts";

/** OpenSSL verification results as Node reports them in `err.code` (see tls docs). */
const CERTIFICATE_CODES = new Set([
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_DECRYPT_CERT_SIGNATURE",
  "UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY",
  "CERT_SIGNATURE_FAILURE",
  "CERT_NOT_YET_VALID",
  "CERT_HAS_EXPIRED",
  "ERROR_IN_CERT_NOT_BEFORE_FIELD",
  "ERROR_IN_CERT_NOT_AFTER_FIELD",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "CERT_CHAIN_TOO_LONG",
  "CERT_REVOKED",
  "INVALID_CA",
  "PATH_LENGTH_EXCEEDED",
  "INVALID_PURPOSE",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "HOSTNAME_MISMATCH",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === "string" ? code : undefined;
}

/**
 * True for TLS failures that retrying cannot cure: the forwarder's certificate failed our
 * checks, or the forwarder sent an alert refusing ours (OpenSSL's ERR_SSL_* codes).
 */
export function isTlsRejection(err: unknown): boolean {
  const code = codeOf(err);
  if (code === undefined) return false;
  return CERTIFICATE_CODES.has(code) || code.startsWith("ERR_SSL_");
}

/**
 * A short cause for messages (naming the TLS profile when the handshake failed over it): the errno name for a system call failure ("ECONNREFUSED"; the
 * address is named by the caller), the text otherwise (TLS errors explain themselves).
 */
export function describeDialError(err: unknown, profile?: TlsProfile): string {
  if (!(err instanceof Error)) return String(err);
  const code = codeOf(err);
  if (code !== undefined && "syscall" in err) return code;
  const described =
    code !== undefined && isTlsRejection(err) && !err.message.includes(code) ? `${err.message} (${code})` : err.message;
  const why = explainNegotiationFailure(code, profile);
  return why === undefined ? described : `${described}: ${why}`;
}
