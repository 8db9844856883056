// Server-side TLS of the forwarder: our CA's certificate on both ends, TLS 1.2 at least, and
// no connection without a client certificate that chains to the CA.
import type tls from "node:tls";
import { MIN_TLS_VERSION } from "../pki/tls-options.ts";

/** PEM material the daemon sent in the VM's user-data. */
export interface ForwarderTlsMaterial {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

export function forwarderTlsOptions(material: ForwarderTlsMaterial): tls.TlsOptions {
  return {
    ca: material.ca,
    cert: material.cert,
    key: material.key,
    minVersion: MIN_TLS_VERSION,
    requestCert: true,
    rejectUnauthorized: true,
    // A client that connects and never completes the handshake holds a socket; not for long.
    handshakeTimeout: 10_000,
  };
}
