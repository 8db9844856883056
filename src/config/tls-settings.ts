// The values TLS_MIN_VERSION and TLS_CIPHER_SUITES accept, in upstream's (Go's) names:
// VersionTLS12 / VersionTLS13, and IANA cipher suite names with OpenSSL's name for each, which
// is what Node speaks (src/pki/tls-profile.ts builds the connection options from them).

import { ConfigError } from "./errors.ts";

export const TLS_VERSION_NAMES = ["VersionTLS12", "VersionTLS13"] as const;
export type TlsVersionName = (typeof TLS_VERSION_NAMES)[number];

/** IANA names of the TLS 1.2 suites Go offers, and OpenSSL's names for them. */
export const TLS12_CIPHER_SUITES: ReadonlyMap<string, string> = new Map([
  ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256"],
  ["TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384"],
  ["TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305"],
  ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256"],
  ["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384"],
  ["TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-RSA-CHACHA20-POLY1305"],
  ["TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "ECDHE-ECDSA-AES128-SHA256"],
  ["TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "ECDHE-RSA-AES128-SHA256"],
  ["TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "ECDHE-ECDSA-AES128-SHA"],
  ["TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "ECDHE-ECDSA-AES256-SHA"],
  ["TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "ECDHE-RSA-AES128-SHA"],
  ["TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "ECDHE-RSA-AES256-SHA"],
  ["TLS_RSA_WITH_AES_128_GCM_SHA256", "AES128-GCM-SHA256"],
  ["TLS_RSA_WITH_AES_256_GCM_SHA384", "AES256-GCM-SHA384"],
  ["TLS_RSA_WITH_AES_128_CBC_SHA256", "AES128-SHA256"],
  ["TLS_RSA_WITH_AES_128_CBC_SHA", "AES128-SHA"],
  ["TLS_RSA_WITH_AES_256_CBC_SHA", "AES256-SHA"],
]);

/** TLS 1.3's suites: accepted in the list (profiles carry them) but, as in Go, not configurable. */
export const TLS13_CIPHER_SUITES: ReadonlySet<string> = new Set([
  "TLS_AES_128_GCM_SHA256",
  "TLS_AES_256_GCM_SHA384",
  "TLS_CHACHA20_POLY1305_SHA256",
]);

export const CIPHER_SUITES_EXPECTED =
  "comma-separated IANA cipher suite names such as TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256";

/** Names in `suites` that are not IANA suite names we know. */
export function unknownCipherSuites(suites: readonly string[]): string[] {
  return suites.filter((s) => !TLS12_CIPHER_SUITES.has(s) && !TLS13_CIPHER_SUITES.has(s));
}

/** TLS_CIPHER_SUITES naming suites we do not know, as the error the binaries report; undefined
 * when every name is known (or none is given). */
export function cipherSuitesError(suites: readonly string[] | undefined): ConfigError | undefined {
  const unknown = unknownCipherSuites(suites ?? []);
  if (unknown.length === 0) return undefined;
  return new ConfigError({
    variable: "TLS_CIPHER_SUITES",
    value: (suites ?? []).join(","),
    expected: `${CIPHER_SUITES_EXPECTED} (unknown: ${unknown.join(", ")})`,
    source: "env",
  });
}
