import { describe, expect, it } from "vitest";
import { explainNegotiationFailure, tlsProfile } from "./tls-profile.ts";

describe("tlsProfile", () => {
  it("is TLS 1.2 with Node's suites when nothing is set", () => {
    expect(tlsProfile(undefined, undefined)).toEqual({ minVersion: "TLSv1.2", ciphers: undefined, setting: undefined });
  });

  it("translates Go's version names and IANA suite names to Node's, keeping only TLS 1.2 suites in the list", () => {
    expect(
      tlsProfile("VersionTLS13", [
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        "TLS_AES_128_GCM_SHA256",
        "TLS_RSA_WITH_AES_128_CBC_SHA",
      ]),
    ).toEqual({
      minVersion: "TLSv1.3",
      ciphers: "ECDHE-RSA-AES256-GCM-SHA384:AES128-SHA",
      setting:
        "TLS_MIN_VERSION=VersionTLS13, TLS_CIPHER_SUITES=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,TLS_AES_128_GCM_SHA256,TLS_RSA_WITH_AES_128_CBC_SHA",
    });
    // Only TLS 1.3 suites listed: TLS 1.2 gets none.
    expect(tlsProfile(undefined, ["TLS_AES_256_GCM_SHA384"]).ciphers).toBe("!ALL");
  });

  it("names the profile only for handshakes that failed over version or suite", () => {
    const profile = tlsProfile("VersionTLS13", undefined);
    expect(explainNegotiationFailure("ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION", profile)).toBe(
      "the forwarder offers no TLS version or cipher suite that TLS_MIN_VERSION=VersionTLS13 allows",
    );
    expect(explainNegotiationFailure("ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE", profile)).toMatch(
      /TLS_MIN_VERSION=VersionTLS13/,
    );
    expect(explainNegotiationFailure("UNABLE_TO_VERIFY_LEAF_SIGNATURE", profile)).toBeUndefined();
    expect(
      explainNegotiationFailure("ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION", tlsProfile(undefined, undefined)),
    ).toBeUndefined();
  });
});
