// The TLS material the proxy dials a forwarder with, as plain PEM strings: whoever holds the
// CA hands it in, the proxy needs nothing else from it.
import tls from "node:tls";
import { DEFAULT_TLS_PROFILE, type TlsProfile } from "../pki/tls-profile.ts";

export interface ProxyTls {
  /** CA certificate the forwarder's certificate must chain to. */
  readonly ca: string;
  /** Client certificate presented to the forwarder, and its private key. */
  readonly cert: string;
  readonly key: string;
  /**
   * Name the forwarder's certificate must carry. Without it the dialled address must appear
   * among the certificate's IP names.
   */
  readonly servername?: string;
  /**
   * Verify the chain only, not the name: for probing a VM whose expected name is not known
   * where the probe runs. The relay itself always checks a name.
   */
  readonly skipNameCheck?: boolean;
  /** TLS_MIN_VERSION / TLS_CIPHER_SUITES; default TLS 1.2 and Node's suites. */
  readonly profile?: TlsProfile;
  /** The context built from the material above, when a caller shares one among many proxies
   * (the relay: one per control plane's certificate, not one per sandbox; each costs memory). */
  readonly secureContext?: tls.SecureContext;
}

/** The secure context for the material: parsed once, usable by any number of proxies. */
export function proxySecureContext(material: ProxyTls): tls.SecureContext {
  const { ca, cert, key, profile = DEFAULT_TLS_PROFILE } = material;
  const ciphers = profile.ciphers === undefined ? {} : { ciphers: profile.ciphers };
  return tls.createSecureContext({ ca, cert, key, minVersion: profile.minVersion, ...ciphers });
}

/** Connection options for tls.connect (host and port added per dial). The secure context is
 * built once: parsing the PEM material on every retry of a long first dial would be waste. */
export function tlsConnectOptions(material: ProxyTls): tls.ConnectionOptions {
  const profile = material.profile ?? DEFAULT_TLS_PROFILE;
  const ciphers = profile.ciphers === undefined ? {} : { ciphers: profile.ciphers };
  return {
    secureContext: material.secureContext ?? proxySecureContext(material),
    minVersion: profile.minVersion,
    ...ciphers,
    rejectUnauthorized: true,
    ...(material.servername === undefined ? {} : { servername: material.servername }),
    ...(material.skipNameCheck === true ? { checkServerIdentity: () => undefined } : {}),
  };
}
