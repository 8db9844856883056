import { createPrivateKey, createPublicKey, X509Certificate } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CertificateAuthority } from "./ca.ts";
import { PkiError } from "./errors.ts";
import { peerVmServerName } from "./server-name.ts";
import { x509 } from "./x509.ts";

let root: string;
let ca: CertificateAuthority;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "pki-issue-"));
  ca = await CertificateAuthority.loadOrCreate(root, { now: new Date("2030-01-01T00:00:00Z") });
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

function extendedUsages(pem: string): readonly unknown[] {
  const extension = new x509.X509Certificate(pem).getExtension(x509.ExtendedKeyUsageExtension);
  if (extension === null) throw new Error("no extended key usage");
  return extension.usages;
}

describe("issuing certificates", () => {
  it("issues a server certificate with the requested names, signed by the CA", async () => {
    const name = peerVmServerName("sandbox-1");
    const issued = await ca.issueServerCertificate({
      commonName: "sandbox-1",
      dnsNames: [name],
      ipAddresses: ["10.0.0.7", "fd00::7"],
      now: new Date("2030-06-01T00:00:00Z"),
    });
    const certificate = new X509Certificate(issued.certPem);
    const caCertificate = new X509Certificate(ca.certPem);
    expect(certificate.subject).toBe("CN=sandbox-1");
    expect(certificate.subjectAltName).toBe(`DNS:${name}, IP Address:10.0.0.7, IP Address:FD00:0:0:0:0:0:0:7`);
    expect(certificate.ca).toBe(false);
    expect(certificate.checkIssued(caCertificate)).toBe(true);
    expect(certificate.verify(caCertificate.publicKey)).toBe(true);
    expect(certificate.checkHost(name)).toBe(name);
    expect(certificate.checkIP("10.0.0.7")).toBe("10.0.0.7");
    expect(extendedUsages(issued.certPem)).toEqual([x509.ExtendedKeyUsage.serverAuth]);
    expect(issued.caPem).toBe(ca.certPem);
    expect(new Date(certificate.validFrom).toISOString()).toBe("2030-05-31T23:00:00.000Z");
    expect(new Date(certificate.validTo).toISOString()).toBe("2031-06-01T00:00:00.000Z");
  });

  it("hands out a PKCS#8 key that belongs to the certificate", async () => {
    const issued = await ca.issueServerCertificate({ commonName: "vm", ipAddresses: ["127.0.0.1"] });
    expect(issued.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    const fromKey = createPublicKey(createPrivateKey(issued.keyPem)).export({ type: "spki", format: "der" });
    const fromCert = new X509Certificate(issued.certPem).publicKey.export({ type: "spki", format: "der" });
    expect(fromKey.equals(fromCert)).toBe(true);
    expect(createPrivateKey(issued.keyPem).asymmetricKeyDetails?.namedCurve).toBe("prime256v1");
  });

  it("issues a client certificate for clientAuth only", async () => {
    const issued = await ca.issueClientCertificate({ commonName: "cloud-api-adaptor/worker-0", validityDays: 30 });
    const certificate = new X509Certificate(issued.certPem);
    expect(certificate.subject).toBe("CN=cloud-api-adaptor/worker-0");
    expect(certificate.subjectAltName).toBeUndefined();
    expect(extendedUsages(issued.certPem)).toEqual([x509.ExtendedKeyUsage.clientAuth]);
    const days = (Date.parse(certificate.validTo) - Date.parse(certificate.validFrom)) / 86_400_000;
    expect(Math.round(days * 24)).toBe(30 * 24 + 1);
  });

  it("uses random positive 128-bit serial numbers", async () => {
    const serials = new Set<string>();
    for (let index = 0; index < 8; index += 1) {
      const issued = await ca.issueClientCertificate({ commonName: "c" });
      const serial = new X509Certificate(issued.certPem).serialNumber;
      expect(serial).toMatch(/^[0-7][0-9A-F]{31}$/);
      expect(serial.startsWith("00")).toBe(false);
      serials.add(serial);
    }
    expect(serials.size).toBe(8);
  });

  it("never lets a leaf outlive the CA", async () => {
    const issued = await ca.issueClientCertificate({ commonName: "c", validityDays: 100 * 365 });
    expect(new Date(new X509Certificate(issued.certPem).validTo).getTime()).toBe(ca.notAfter.getTime());
  });

  it.each([
    [{ commonName: "vm" }, "needs at least one DNS name or IP address"],
    [{ commonName: "vm", ipAddresses: ["10.0.0.300"] }, 'not an IP address: "10.0.0.300"'],
    [{ commonName: "vm", dnsNames: ["bad name"] }, 'not a DNS name: "bad name"'],
    [{ commonName: "vm", dnsNames: ["-lead.example"] }, "not a DNS name"],
    [{ commonName: "", dnsNames: ["ok.example"] }, "common name must not be empty"],
    [{ commonName: "vm", dnsNames: ["ok.example"], validityDays: 0 }, "validity must be a positive number of days"],
  ])("rejects a bad request %#", async (request, message) => {
    await expect(ca.issueServerCertificate(request)).rejects.toThrow(PkiError);
    await expect(ca.issueServerCertificate(request)).rejects.toThrow(message);
  });
});
