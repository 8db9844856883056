// The daemon's CA and the certificates and TLS settings for proxy ⇄ forwarder mutual TLS.
//
// At start the daemon loads (or first creates) its CA from the state directory and issues
// itself a client certificate. For each sandbox it issues the VM a server certificate named
// peerVmServerName(sandboxId) and sends it, with the CA certificate, in the VM's user-data.
// The forwarder serves with serverTlsOptions; the proxy dials with clientTlsOptions and that
// server name, so each proxy reaches only the VM made for its own sandbox.

export {
  CA_CERT_FILE,
  CA_KEY_FILE,
  CA_VALIDITY_YEARS,
  type CaOrigin,
  CertificateAuthority,
  type ClientCertificateRequest,
  DEFAULT_CA_COMMON_NAME,
  type LoadOrCreateOptions,
  type ServerCertificateRequest,
} from "./ca.ts";
export { PkiError } from "./errors.ts";
export { CLOCK_SKEW_ALLOWANCE_MS, DEFAULT_LEAF_VALIDITY_DAYS, type IssuedCertificate } from "./issue.ts";
export {
  loadOperatorCertificates,
  type OperatorCertificateFiles,
  type OperatorCertificates,
} from "./operator-certificates.ts";
export { PEER_VM_NAME_SUFFIX, peerVmServerName, poolVmServerName } from "./server-name.ts";
export { type ClientTlsTarget, clientTlsOptions, MIN_TLS_VERSION, serverTlsOptions } from "./tls-options.ts";
export { DEFAULT_TLS_PROFILE, explainNegotiationFailure, type TlsProfile, tlsProfile } from "./tls-profile.ts";
