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
  CertificateAuthority,
  DEFAULT_CA_COMMON_NAME,
  type CaOrigin,
  type ClientCertificateRequest,
  type LoadOrCreateOptions,
  type ServerCertificateRequest,
} from "./ca.ts";
export { CLOCK_SKEW_ALLOWANCE_MS, DEFAULT_LEAF_VALIDITY_DAYS, type IssuedCertificate } from "./issue.ts";
export { PkiError } from "./errors.ts";
export { PEER_VM_NAME_SUFFIX, peerVmServerName, poolVmServerName } from "./server-name.ts";
export { MIN_TLS_VERSION, clientTlsOptions, serverTlsOptions, type ClientTlsTarget } from "./tls-options.ts";
export { DEFAULT_TLS_PROFILE, explainNegotiationFailure, tlsProfile, type TlsProfile } from "./tls-profile.ts";
export {
  loadOperatorCertificates,
  type OperatorCertificateFiles,
  type OperatorCertificates,
} from "./operator-certificates.ts";
