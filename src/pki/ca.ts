// The daemon's certificate authority. Peer VMs receive its certificate in their user-data and
// trust only it, so it must survive restarts: it lives in ca.crt / ca.key in the state
// directory, and a damaged key is an error for the operator to resolve, never a reason to mint
// a new CA that every running VM would reject.

import { X509Certificate as NodeX509Certificate } from "node:crypto";
import { chmod, mkdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../util/atomic-file.ts";
import { PkiError } from "./errors.ts";
import { CLOCK_SKEW_ALLOWANCE_MS, type IssuedCertificate, type Issuer, issueLeafCertificate } from "./issue.ts";
import { exportPrivateKeyPem, generateKeyPair, importPrivateKeyPem } from "./keys.ts";
import { randomSerialNumber } from "./serial.ts";
import { type CryptoKey, EC_ALGORITHM, nodeCrypto, x509 } from "./x509.ts";

export const CA_CERT_FILE = "ca.crt";
export const CA_KEY_FILE = "ca.key";
export const CA_VALIDITY_YEARS = 10;
export const DEFAULT_CA_COMMON_NAME = "cloud-api-adaptor peer-pods CA";

const PRIVATE_DIR_MODE = 0o700;
const PRIVATE_FILE_MODE = 0o600;
const PUBLIC_FILE_MODE = 0o644;

export interface LoadOrCreateOptions {
  /** Subject common name of a newly created CA. */
  readonly commonName?: string;
  /** Creation time of a new CA; defaults to now. */
  readonly now?: Date;
}

/** What loadOrCreate found: a new CA, the stored one, or the stored key with a re-made certificate. */
export type CaOrigin = "created" | "loaded" | "recertified";

export interface ServerCertificateRequest {
  /** Subject common name, e.g. the sandbox id. */
  readonly commonName: string;
  /** DNS names, e.g. [peerVmServerName(sandboxId)]. */
  readonly dnsNames?: readonly string[];
  readonly ipAddresses?: readonly string[];
  readonly validityDays?: number;
  readonly now?: Date;
}

export interface ClientCertificateRequest {
  /** Subject common name, e.g. "cloud-api-adaptor/<node name>". */
  readonly commonName: string;
  readonly validityDays?: number;
  readonly now?: Date;
}

export class CertificateAuthority {
  readonly #issuer: Issuer;
  readonly #origin: CaOrigin;

  private constructor(issuer: Issuer, origin: CaOrigin) {
    this.#issuer = issuer;
    this.#origin = origin;
  }

  /**
   * Loads the CA kept in `dir`, or creates one there if the directory holds neither file.
   * The directory is created with mode 0700; the key is written with mode 0600.
   * Throws PkiError if the key is unreadable or corrupt, or does not match the certificate.
   */
  static async loadOrCreate(dir: string, options: LoadOrCreateOptions = {}): Promise<CertificateAuthority> {
    await ensurePrivateDirectory(dir);
    const certPath = join(dir, CA_CERT_FILE);
    const keyPath = join(dir, CA_KEY_FILE);
    const keyPem = await readIfPresent(keyPath);
    const certPem = await readIfPresent(certPath);

    if (keyPem === undefined) {
      if (certPem !== undefined) {
        throw new PkiError(
          `${certPath} exists but ${keyPath} is missing: the CA cannot sign without its key. ` +
            `Restore ${CA_KEY_FILE}, or remove ${CA_CERT_FILE} to create a new CA (running peer VMs will then be unreachable).`,
          { path: keyPath },
        );
      }
      return CertificateAuthority.#create(certPath, keyPath, options);
    }

    const key = await importPrivateKeyPem(keyPem).catch((cause: unknown) => {
      throw new PkiError(
        `CA key ${keyPath} is unreadable or corrupt (${describe(cause)}). Refusing to create a new CA, ` +
          `since running peer VMs trust the existing one: restore the file, or remove both ${CA_KEY_FILE} and ${CA_CERT_FILE} to start over.`,
        { path: keyPath, cause },
      );
    });

    if (certPem === undefined) {
      // Only a crash between writing the key and the certificate (or a deleted certificate)
      // leads here. A certificate re-made from the same key and name verifies everything the
      // lost one signed, so nothing that trusts this CA breaks.
      const certificate = await selfSign({ privateKey: key.privateKey, publicKeySpki: key.publicKeySpki }, options);
      const pem = certificate.toString("pem");
      await writeFileAtomic(certPath, pem, PUBLIC_FILE_MODE);
      return new CertificateAuthority({ certificate, certPem: pem, privateKey: key.privateKey }, "recertified");
    }

    let certificate: x509.X509Certificate;
    try {
      certificate = new x509.X509Certificate(certPem);
    } catch (cause) {
      throw new PkiError(`CA certificate ${certPath} is corrupt (${describe(cause)})`, { path: certPath, cause });
    }
    if (!Buffer.from(certificate.publicKey.rawData).equals(key.publicKeySpki)) {
      throw new PkiError(`CA key ${keyPath} does not belong to certificate ${certPath}`, { path: keyPath });
    }
    return new CertificateAuthority({ certificate, certPem, privateKey: key.privateKey }, "loaded");
  }

  static async #create(certPath: string, keyPath: string, options: LoadOrCreateOptions): Promise<CertificateAuthority> {
    const keys = await generateKeyPair();
    const publicKeySpki = Buffer.from(await nodeCrypto.subtle.exportKey("spki", keys.publicKey));
    const certificate = await selfSign({ privateKey: keys.privateKey, publicKeySpki }, options);
    // Key first: the certificate's presence marks a complete CA (see the recertify branch above).
    await writeFileAtomic(keyPath, await exportPrivateKeyPem(keys.privateKey), PRIVATE_FILE_MODE);
    const certPem = certificate.toString("pem");
    await writeFileAtomic(certPath, certPem, PUBLIC_FILE_MODE);
    return new CertificateAuthority({ certificate, certPem, privateKey: keys.privateKey }, "created");
  }

  /** How this instance came to be; worth a log line at start. */
  get origin(): CaOrigin {
    return this.#origin;
  }

  /** The CA certificate, for peers to trust. */
  get certPem(): string {
    return this.#issuer.certPem;
  }

  get notAfter(): Date {
    return this.#issuer.certificate.notAfter;
  }

  /** SHA-256 fingerprint of the CA certificate, colon-separated hex as OpenSSL prints it. */
  get fingerprint256(): string {
    return new NodeX509Certificate(this.#issuer.certPem).fingerprint256;
  }

  /** A server certificate (serverAuth) for the forwarder in a peer VM. */
  issueServerCertificate(request: ServerCertificateRequest): Promise<IssuedCertificate> {
    return issueLeafCertificate(this.#issuer, { ...request, usage: "server" });
  }

  /** A client certificate (clientAuth) for the daemon's agent proxy. */
  issueClientCertificate(request: ClientCertificateRequest): Promise<IssuedCertificate> {
    return issueLeafCertificate(this.#issuer, { ...request, usage: "client" });
  }
}

async function selfSign(
  key: { readonly privateKey: CryptoKey; readonly publicKeySpki: Buffer },
  options: LoadOrCreateOptions,
): Promise<x509.X509Certificate> {
  const now = options.now ?? new Date();
  const notAfter = new Date(now);
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + CA_VALIDITY_YEARS);
  const publicKey = new x509.PublicKey(key.publicKeySpki);
  const name: x509.JsonName = [{ CN: [options.commonName ?? DEFAULT_CA_COMMON_NAME] }];
  return x509.X509CertificateGenerator.create(
    {
      serialNumber: randomSerialNumber(),
      subject: name,
      issuer: name,
      notBefore: new Date(now.getTime() - CLOCK_SKEW_ALLOWANCE_MS),
      notAfter,
      publicKey,
      signingKey: key.privateKey,
      signingAlgorithm: EC_ALGORITHM,
      extensions: [
        // pathLength 0: this CA signs leaves only, never another CA.
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(publicKey, false, nodeCrypto),
      ],
    },
    nodeCrypto,
  );
}

async function ensurePrivateDirectory(dir: string): Promise<void> {
  let created: string | undefined;
  try {
    created = await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  } catch (error) {
    const reason =
      (error as NodeJS.ErrnoException).code === "EEXIST" ? "it exists and is not a directory" : describe(error);
    throw new PkiError(`cannot use ${dir} as the CA directory: ${reason}`, { path: dir, cause: error });
  }
  if (created !== undefined) {
    // mkdir's mode passes through the umask; set it exactly on what we created.
    await chmod(dir, PRIVATE_DIR_MODE);
    return;
  }
  const info = await stat(dir);
  if (!info.isDirectory())
    throw new PkiError(`cannot use ${dir} as the CA directory: it is not a directory`, { path: dir });
}

async function readIfPresent(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new PkiError(`cannot read ${path}: ${describe(error)}`, { path, cause: error });
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
