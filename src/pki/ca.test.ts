import { generateKeyPairSync, X509Certificate } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, stat, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CA_CERT_FILE, CA_KEY_FILE, CertificateAuthority } from "./ca.ts";
import { PkiError } from "./errors.ts";

let root: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "pki-ca-"));
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function failureOf(promise: Promise<unknown>): Promise<PkiError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(PkiError);
    return error as PkiError;
  }
  throw new Error("expected a PkiError");
}

describe("CertificateAuthority.loadOrCreate", () => {
  it("creates a CA once and loads the same one afterwards", async () => {
    const dir = join(root, "state", "pki");
    const first = await CertificateAuthority.loadOrCreate(dir);
    const second = await CertificateAuthority.loadOrCreate(dir);
    expect(first.origin).toBe("created");
    expect(second.origin).toBe("loaded");
    expect(second.certPem).toBe(first.certPem);
    expect(second.fingerprint256).toBe(first.fingerprint256);

    // What the reloaded CA signs verifies against the certificate VMs got from the first run.
    const leaf = await second.issueClientCertificate({ commonName: "proxy" });
    const trusted = new X509Certificate(first.certPem);
    expect(new X509Certificate(leaf.certPem).verify(trusted.publicKey)).toBe(true);
  });

  it("keeps the key private: directory 0700, key 0600, no temporary files left", async () => {
    const dir = join(root, "fresh");
    await CertificateAuthority.loadOrCreate(dir);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect((await stat(join(dir, CA_KEY_FILE))).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, CA_CERT_FILE))).mode & 0o777).toBe(0o644);
    expect((await readdir(dir)).sort()).toEqual([CA_CERT_FILE, CA_KEY_FILE]);
    expect(await readFile(join(dir, CA_KEY_FILE), "utf8")).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
  });

  it("makes a 10-year CA certificate that may sign only leaves", async () => {
    const now = new Date("2030-01-01T00:00:00Z");
    const ca = await CertificateAuthority.loadOrCreate(root, { now, commonName: "test CA" });
    const certificate = new X509Certificate(ca.certPem);
    expect(certificate.ca).toBe(true);
    expect(certificate.subject).toBe("CN=test CA");
    expect(certificate.issuer).toBe("CN=test CA");
    expect(new Date(certificate.validTo).toISOString()).toBe("2040-01-01T00:00:00.000Z");
    expect(new Date(certificate.validFrom).toISOString()).toBe("2029-12-31T23:00:00.000Z");
    expect(ca.notAfter.toISOString()).toBe("2040-01-01T00:00:00.000Z");
    expect(certificate.verify(certificate.publicKey)).toBe(true);
    expect(certificate.publicKey.asymmetricKeyDetails?.namedCurve).toBe("prime256v1");
  });

  it("refuses a corrupt key instead of creating a new CA", async () => {
    const ca = await CertificateAuthority.loadOrCreate(root);
    const keyPath = join(root, CA_KEY_FILE);
    const garbage = "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n";
    await writeFile(keyPath, garbage);

    const error = await failureOf(CertificateAuthority.loadOrCreate(root));
    expect(error.path).toBe(keyPath);
    expect(error.message).toContain(`CA key ${keyPath} is unreadable or corrupt`);
    expect(error.message).toContain("Refusing to create a new CA");
    // Nothing was replaced.
    expect(await readFile(keyPath, "utf8")).toBe(garbage);
    expect(await readFile(join(root, CA_CERT_FILE), "utf8")).toBe(ca.certPem);
  });

  it("refuses a key file that is not PEM at all, or holds a key of another type", async () => {
    await CertificateAuthority.loadOrCreate(root);
    const keyPath = join(root, CA_KEY_FILE);
    await writeFile(keyPath, "hello");
    expect((await failureOf(CertificateAuthority.loadOrCreate(root))).message).toContain("is unreadable or corrupt");

    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" });
    await writeFile(keyPath, rsa);
    expect((await failureOf(CertificateAuthority.loadOrCreate(root))).message).toContain("is unreadable or corrupt");
  });

  it("refuses a key that does not match the certificate", async () => {
    const other = join(root, "other");
    await CertificateAuthority.loadOrCreate(root);
    await CertificateAuthority.loadOrCreate(other);
    await writeFile(join(root, CA_KEY_FILE), await readFile(join(other, CA_KEY_FILE)));
    expect((await failureOf(CertificateAuthority.loadOrCreate(root))).message).toContain(
      "does not belong to certificate",
    );
  });

  it("refuses a corrupt certificate", async () => {
    await CertificateAuthority.loadOrCreate(root);
    await writeFile(join(root, CA_CERT_FILE), "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
    const error = await failureOf(CertificateAuthority.loadOrCreate(root));
    expect(error.message).toContain("is corrupt");
    expect(error.path).toBe(join(root, CA_CERT_FILE));
  });

  it("refuses a certificate without its key", async () => {
    await CertificateAuthority.loadOrCreate(root);
    await unlink(join(root, CA_KEY_FILE));
    const error = await failureOf(CertificateAuthority.loadOrCreate(root));
    expect(error.message).toContain("is missing: the CA cannot sign without its key");
    expect((await readdir(root)).sort()).toEqual([CA_CERT_FILE]);
  });

  it("re-makes a lost certificate from the kept key, still trusted by what the old one signed", async () => {
    const original = await CertificateAuthority.loadOrCreate(root);
    const issuedBefore = await original.issueServerCertificate({ commonName: "vm", dnsNames: ["vm.example"] });
    await unlink(join(root, CA_CERT_FILE));

    const restored = await CertificateAuthority.loadOrCreate(root);
    expect(restored.origin).toBe("recertified");
    expect(restored.certPem).not.toBe(original.certPem);
    const restoredCert = new X509Certificate(restored.certPem);
    const leaf = new X509Certificate(issuedBefore.certPem);
    expect(leaf.checkIssued(restoredCert)).toBe(true);
    expect(leaf.verify(restoredCert.publicKey)).toBe(true);
    expect(await readFile(join(root, CA_CERT_FILE), "utf8")).toBe(restored.certPem);
    expect((await CertificateAuthority.loadOrCreate(root)).origin).toBe("loaded");
  });

  it("refuses a state path that is a file", async () => {
    const file = join(root, "file");
    await writeFile(file, "x");
    expect((await failureOf(CertificateAuthority.loadOrCreate(file))).message).toContain(
      `cannot use ${file} as the CA directory`,
    );
  });
});
