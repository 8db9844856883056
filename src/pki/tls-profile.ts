// The cluster's TLS profile for the proxy → forwarder link, as upstream takes it (and OpenShift
// injects it): TLS_MIN_VERSION in Go's names (VersionTLS12, VersionTLS13) and
// TLS_CIPHER_SUITES as IANA names. Node speaks OpenSSL's names, so the suites are translated;
// as in Go, the list governs TLS 1.2 only (TLS 1.3's three suites are always on).

import { TLS12_CIPHER_SUITES, type TlsVersionName } from "../config/tls-settings.ts";
import { MIN_TLS_VERSION } from "./tls-options.ts";

const NODE_VERSION: Readonly<Record<TlsVersionName, "TLSv1.2" | "TLSv1.3">> = {
  VersionTLS12: "TLSv1.2",
  VersionTLS13: "TLSv1.3",
};

export interface TlsProfile {
  readonly minVersion: "TLSv1.2" | "TLSv1.3";
  /** OpenSSL cipher list for TLS 1.2; undefined: Node's defaults. */
  readonly ciphers: string | undefined;
  /** The settings that made this profile, for handshake errors; undefined for the default. */
  readonly setting: string | undefined;
}

export const DEFAULT_TLS_PROFILE: TlsProfile = { minVersion: MIN_TLS_VERSION, ciphers: undefined, setting: undefined };

/** The profile for validated settings (see unknownCipherSuites). */
export function tlsProfile(minVersion: TlsVersionName | undefined, suites: readonly string[] | undefined): TlsProfile {
  const tls12 = (suites ?? []).flatMap((s) => TLS12_CIPHER_SUITES.get(s) ?? []);
  const parts = [
    ...(minVersion === undefined ? [] : [`TLS_MIN_VERSION=${minVersion}`]),
    ...(suites === undefined || suites.length === 0 ? [] : [`TLS_CIPHER_SUITES=${suites.join(",")}`]),
  ];
  return {
    minVersion: minVersion === undefined ? MIN_TLS_VERSION : NODE_VERSION[minVersion],
    // A list of TLS 1.3 suites only leaves TLS 1.2 with none, which is what it says.
    ciphers: suites === undefined || suites.length === 0 ? undefined : tls12.length === 0 ? "!ALL" : tls12.join(":"),
    setting: parts.length === 0 ? undefined : parts.join(", "),
  };
}

// OpenSSL's answers when the two ends share no version or no cipher suite.
const NEGOTIATION_FAILURE =
  /PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL|WRONG_VERSION|NO_PROTOCOLS|NO_SHARED_CIPHER|NO_CIPHERS|HANDSHAKE_FAILURE|INSUFFICIENT_SECURITY/;

/**
 * For a handshake the other end refused over version or cipher, the words that name the
 * profile as the likely cause; undefined otherwise or for the default profile.
 */
export function explainNegotiationFailure(
  code: string | undefined,
  profile: TlsProfile | undefined,
): string | undefined {
  if (code === undefined || profile?.setting === undefined || !NEGOTIATION_FAILURE.test(code)) return undefined;
  return `the forwarder offers no TLS version or cipher suite that ${profile.setting} allows`;
}
