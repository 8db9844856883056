// Throwaway certificates for tests of the proxy ⇄ forwarder link: a CA, and server and client
// certificates it signs (ECDSA P-256), as PEM strings. Independent of src/pki on purpose: the
// relay is tested against plain X.509, not against our own issuer.
import "reflect-metadata"; // @peculiar/x509 needs the Reflect metadata polyfill loaded first
import { randomBytes, webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";

const ALGORITHM = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const DAY_MS = 24 * 60 * 60 * 1000;

/** One TLS endpoint's material: the CA it trusts, its certificate and key. */
export interface TestTlsMaterial {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

export interface TestLeafRequest {
  readonly commonName: string;
  readonly dnsNames?: readonly string[];
  readonly ipAddresses?: readonly string[];
}

function serial(): string {
  // Positive: the top bit of the first byte clear.
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f;
  return bytes.toString("hex");
}

async function keyPair(): Promise<webcrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
}

async function privateKeyPem(key: webcrypto.CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey("pkcs8", key);
  return x509.PemConverter.encode(der, "PRIVATE KEY");
}

export class TestCa {
  readonly pem: string;
  private readonly cert: x509.X509Certificate;
  private readonly key: webcrypto.CryptoKey;

  private constructor(cert: x509.X509Certificate, key: webcrypto.CryptoKey) {
    this.cert = cert;
    this.key = key;
    this.pem = cert.toString("pem");
  }

  static async create(commonName = "test CA"): Promise<TestCa> {
    const keys = await keyPair();
    const now = Date.now();
    const cert = await x509.X509CertificateGenerator.createSelfSigned(
      {
        serialNumber: serial(),
        name: `CN=${commonName}`,
        notBefore: new Date(now - DAY_MS),
        notAfter: new Date(now + DAY_MS),
        keys,
        signingAlgorithm: ALGORITHM,
        extensions: [
          new x509.BasicConstraintsExtension(true, 0, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
          await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
        ],
      },
      webcrypto,
    );
    return new TestCa(cert, keys.privateKey);
  }

  /** A server certificate (serverAuth); default names: localhost and 127.0.0.1. */
  issueServer(request: Partial<TestLeafRequest> = {}): Promise<TestTlsMaterial> {
    return this.issue("server", {
      commonName: request.commonName ?? "forwarder",
      dnsNames: request.dnsNames ?? ["localhost"],
      ipAddresses: request.ipAddresses ?? ["127.0.0.1"],
    });
  }

  /** A client certificate (clientAuth). */
  issueClient(commonName = "proxy"): Promise<TestTlsMaterial> {
    return this.issue("client", { commonName });
  }

  private async issue(usage: "server" | "client", request: TestLeafRequest): Promise<TestTlsMaterial> {
    const keys = await keyPair();
    const now = Date.now();
    const names = [
      ...(request.dnsNames ?? []).map((value) => ({ type: "dns" as const, value })),
      ...(request.ipAddresses ?? []).map((value) => ({ type: "ip" as const, value })),
    ];
    const extensions: x509.Extension[] = [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([
        usage === "server" ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth,
      ]),
      await x509.AuthorityKeyIdentifierExtension.create(this.cert, false, webcrypto),
    ];
    if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names));
    const cert = await x509.X509CertificateGenerator.create(
      {
        serialNumber: serial(),
        subject: `CN=${request.commonName}`,
        issuer: this.cert.subject,
        notBefore: new Date(now - DAY_MS),
        notAfter: new Date(now + DAY_MS),
        publicKey: keys.publicKey,
        signingKey: this.key,
        signingAlgorithm: ALGORITHM,
        extensions,
      },
      webcrypto,
    );
    return { ca: this.pem, cert: cert.toString("pem"), key: await privateKeyPem(keys.privateKey) };
  }
}

/** A CA with a forwarder (server) and a proxy (client) certificate. */
export interface TestPki {
  readonly ca: TestCa;
  readonly server: TestTlsMaterial;
  readonly client: TestTlsMaterial;
}

export async function createTestPki(server: Partial<TestLeafRequest> = {}): Promise<TestPki> {
  const ca = await TestCa.create();
  return { ca, server: await ca.issueServer(server), client: await ca.issueClient() };
}
