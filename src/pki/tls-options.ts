// TLS settings for the two ends of the proxy ⇄ forwarder link. Both sides present a certificate
// from the daemon's CA and accept only peers whose certificate that CA signed; TLS 1.2 minimum.
//
// Server identity: the daemon dials a VM with `servername` = peerVmServerName(sandboxId), the
// DNS name issued into that VM's certificate, so a VM holding another sandbox's certificate is
// refused (see server-name.ts for why an IP address is not enough). Without `serverName` the
// address dialled is checked against the certificate's IP names instead.

import type { ConnectionOptions, TlsOptions } from "node:tls";
import type { IssuedCertificate } from "./issue.ts";

export const MIN_TLS_VERSION = "TLSv1.2";

/** Options for tls.createServer in the forwarder: a client certificate from our CA is required. */
export function serverTlsOptions(material: IssuedCertificate): TlsOptions {
  return {
    cert: material.certPem,
    key: material.keyPem,
    ca: material.caPem,
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: MIN_TLS_VERSION,
  };
}

export interface ClientTlsTarget {
  /** The name the VM's certificate must carry, normally peerVmServerName(sandboxId). */
  readonly serverName?: string;
}

/**
 * Options for tls.connect in the daemon's proxy (add host and port): presents the daemon's
 * client certificate and verifies the VM's certificate against our CA only.
 */
export function clientTlsOptions(material: IssuedCertificate, target: ClientTlsTarget = {}): ConnectionOptions {
  return {
    cert: material.certPem,
    key: material.keyPem,
    ca: material.caPem,
    rejectUnauthorized: true,
    minVersion: MIN_TLS_VERSION,
    ...(target.serverName === undefined ? {} : { servername: target.serverName }),
  };
}
