// Issuing leaf certificates: a server certificate for the forwarder in each peer VM, and a
// client certificate for the daemon's agent proxy. Each gets its own fresh key.

import { isIP } from "node:net";
import { PkiError } from "./errors.ts";
import { exportPrivateKeyPem, generateKeyPair } from "./keys.ts";
import { randomSerialNumber } from "./serial.ts";
import { type CryptoKey, EC_ALGORITHM, nodeCrypto, x509 } from "./x509.ts";

export const DEFAULT_LEAF_VALIDITY_DAYS = 365;

/** Clocks of a fresh VM and of the node can disagree; certificates start this much in the past. */
export const CLOCK_SKEW_ALLOWANCE_MS = 60 * 60 * 1000;

const DAY_MS = 24 * 60 * 60 * 1000;

/** PEM material for one TLS endpoint. */
export interface IssuedCertificate {
  readonly certPem: string;
  /** PKCS#8 PEM private key. Keep it out of logs and world-readable files. */
  readonly keyPem: string;
  /** The CA certificate the peer must trust. */
  readonly caPem: string;
}

/** What signs: the CA's certificate and private key. */
export interface Issuer {
  readonly certificate: x509.X509Certificate;
  readonly certPem: string;
  readonly privateKey: CryptoKey;
}

export interface LeafRequest {
  readonly usage: "server" | "client";
  readonly commonName: string;
  /** DNS subject alternative names (server certificates: see peerVmServerName). */
  readonly dnsNames?: readonly string[];
  /** IP subject alternative names, IPv4 or IPv6. */
  readonly ipAddresses?: readonly string[];
  readonly validityDays?: number;
  /** Issue time; defaults to now. */
  readonly now?: Date;
}

// Letters, digits, hyphens and dots, optionally one leading wildcard label.
const DNS_NAME =
  /^(\*\.)?([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

function checkRequest(request: LeafRequest): void {
  const dnsNames = request.dnsNames ?? [];
  const ipAddresses = request.ipAddresses ?? [];
  if (request.commonName === "") throw new PkiError("certificate common name must not be empty");
  for (const name of dnsNames) {
    if (!DNS_NAME.test(name) || name.length > 253) throw new PkiError(`not a DNS name: ${JSON.stringify(name)}`);
  }
  for (const address of ipAddresses) {
    if (isIP(address) === 0) throw new PkiError(`not an IP address: ${JSON.stringify(address)}`);
  }
  if (request.usage === "server" && dnsNames.length === 0 && ipAddresses.length === 0) {
    throw new PkiError("a server certificate needs at least one DNS name or IP address");
  }
  const days = request.validityDays ?? DEFAULT_LEAF_VALIDITY_DAYS;
  if (!Number.isFinite(days) || days <= 0)
    throw new PkiError(`validity must be a positive number of days, not ${days}`);
}

/** Issues a certificate with a new key, signed by the issuer. */
export async function issueLeafCertificate(issuer: Issuer, request: LeafRequest): Promise<IssuedCertificate> {
  checkRequest(request);
  const now = request.now ?? new Date();
  const notBefore = new Date(now.getTime() - CLOCK_SKEW_ALLOWANCE_MS);
  const wanted = new Date(now.getTime() + (request.validityDays ?? DEFAULT_LEAF_VALIDITY_DAYS) * DAY_MS);
  // A leaf outliving its CA would fail verification anyway; say so in the certificate itself.
  const notAfter = wanted < issuer.certificate.notAfter ? wanted : issuer.certificate.notAfter;

  const keys = await generateKeyPair();
  const names: x509.JsonGeneralName[] = [
    ...(request.dnsNames ?? []).map((value) => ({ type: "dns" as const, value })),
    ...(request.ipAddresses ?? []).map((value) => ({ type: "ip" as const, value })),
  ];
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension(
      [request.usage === "server" ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth],
      false,
    ),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, nodeCrypto),
    await x509.AuthorityKeyIdentifierExtension.create(issuer.certificate.publicKey, false, nodeCrypto),
  ];
  if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names, false));

  const certificate = await x509.X509CertificateGenerator.create(
    {
      serialNumber: randomSerialNumber(),
      subject: [{ CN: [request.commonName] }],
      issuer: issuer.certificate.subjectName,
      notBefore,
      notAfter,
      publicKey: keys.publicKey,
      signingKey: issuer.privateKey,
      signingAlgorithm: EC_ALGORITHM,
      extensions,
    },
    nodeCrypto,
  );
  return Object.freeze({
    certPem: certificate.toString("pem"),
    keyPem: await exportPrivateKeyPem(keys.privateKey),
    caPem: issuer.certPem,
  });
}
