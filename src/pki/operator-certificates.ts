// Operator-provided certificates (upstream's CACERT_FILE, CERT_FILE, CERT_KEY), used instead of
// the daemon's own CA: the CA the forwarders' certificates chain to, and the daemon's client
// pair. Read once at start-up; every problem names the variable and the file.
import fs from "node:fs/promises";
import tls from "node:tls";

export interface OperatorCertificateFiles {
  readonly caCertFile: string;
  readonly certFile: string;
  readonly certKey: string;
}

export interface OperatorCertificates {
  readonly caPem: string;
  readonly certPem: string;
  readonly keyPem: string;
}

export async function loadOperatorCertificates(files: OperatorCertificateFiles): Promise<OperatorCertificates> {
  const problems: string[] = [];
  const read = async (variable: string, file: string, marker: RegExp, what: string): Promise<string> => {
    let text = "";
    try {
      text = await fs.readFile(file, "utf8");
    } catch (err) {
      problems.push(
        `${variable}=${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      );
      return "";
    }
    if (!marker.test(text)) problems.push(`${variable}=${file}: expected ${what}`);
    return text;
  };
  const caPem = await read("CACERT_FILE", files.caCertFile, /-----BEGIN CERTIFICATE-----/, "a PEM CA certificate");
  const certPem = await read("CERT_FILE", files.certFile, /-----BEGIN CERTIFICATE-----/, "a PEM certificate");
  // The key's own text is never put into a message.
  const keyPem = await read("CERT_KEY", files.certKey, /-----BEGIN [A-Z ]*PRIVATE KEY-----/, "a PEM private key");
  if (problems.length === 0) {
    try {
      tls.createSecureContext({ ca: caPem, cert: certPem, key: keyPem });
    } catch (err) {
      problems.push(
        `CERT_FILE=${files.certFile}, CERT_KEY=${files.certKey}: not a usable pair (${(err as Error).message})`,
      );
    }
  }
  if (problems.length > 0) throw new Error(`operator certificates: ${problems.join("; ")}`);
  return { caPem, certPem, keyPem };
}
