// The proxy → forwarder link under upstream's TLS settings: the daemon's own CA with a TLS
// profile (TLS_MIN_VERSION, TLS_CIPHER_SUITES), and operator certificates (CACERT_FILE,
// CERT_FILE, CERT_KEY) with the VM's certificate coming from its image. Both relay a pod; a
// profile the forwarder cannot meet fails the handshake naming the setting.
import fs from "node:fs/promises";
import path from "node:path";
import tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tlsProfile } from "../src/pki/index.ts";
import { waitForForwarder } from "../src/proxy/index.ts";
import { cleanupDaemonDirs, type DaemonDirs, makeDaemonDirs, startDaemon } from "./support/daemon-process.ts";
import { echoPod } from "./support/hypervisor-calls.ts";
import { TestCa } from "./support/test-certs.ts";

let dirs: DaemonDirs;

beforeAll(async () => {
  dirs = await makeDaemonDirs("caa-tls-");
});
afterAll(async () => {
  if (dirs) expect(await cleanupDaemonDirs(dirs)).toEqual([]);
});

const echo = (socketPath: string, word: string) => echoPod(socketPath, [word]);

describe("TLS on the proxy → forwarder link", () => {
  it("own CA with the cluster's TLS profile (TLS 1.3 minimum, a cipher list) relays a pod", async () => {
    const daemon = await startDaemon(dirs, {
      TLS_MIN_VERSION: "VersionTLS13",
      TLS_CIPHER_SUITES: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_AES_128_GCM_SHA256",
    });
    try {
      expect(await echo(dirs.socketPath, "profiled")).toEqual({ status: 0, out: "profiled\n" });
      expect(daemon.logs()).toContain(
        "TLS profile for the forwarder link: TLS_MIN_VERSION=VersionTLS13, TLS_CIPHER_SUITES=TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_AES_128_GCM_SHA256",
      );
    } finally {
      await daemon.stop();
    }
  });

  it("operator certificates instead of the daemon's CA relay a pod; the VM's certificate comes with its image", async () => {
    const ca = await TestCa.create("operator CA");
    const client = await ca.issueClient("cloud-api-adaptor");
    const server = await ca.issueServer({ commonName: "podvm", dnsNames: ["podvm"], ipAddresses: [] });
    const certs = path.join(dirs.root, "certs");
    const image = path.join(dirs.root, "image-certs");
    await fs.mkdir(certs, { mode: 0o700 });
    await fs.mkdir(image, { mode: 0o700 });
    await fs.writeFile(path.join(certs, "ca.crt"), ca.pem);
    await fs.writeFile(path.join(certs, "client.crt"), client.cert);
    await fs.writeFile(path.join(certs, "client.key"), client.key, { mode: 0o600 });
    await fs.writeFile(path.join(image, "ca.crt"), ca.pem);
    await fs.writeFile(path.join(image, "tls.crt"), server.cert);
    await fs.writeFile(path.join(image, "tls.key"), server.key, { mode: 0o600 });
    const stateDir = path.join(dirs.root, "operator-state");
    const daemon = await startDaemon(
      { ...dirs, stateDir },
      {
        CACERT_FILE: path.join(certs, "ca.crt"),
        CERT_FILE: path.join(certs, "client.crt"),
        CERT_KEY: path.join(certs, "client.key"),
        LOCAL_VM_TLS_DIR: image,
      },
    );
    try {
      expect(await echo(dirs.socketPath, "operator")).toEqual({ status: 0, out: "operator\n" });
      expect(daemon.logs()).toContain(
        "operator certificates: forwarders must present a certificate from CACERT_FILE's CA",
      );
      // No CA of the daemon's own was made.
      await expect(fs.stat(path.join(stateDir, "ca"))).rejects.toMatchObject({ code: "ENOENT" });
    } finally {
      await daemon.stop();
    }
  });

  it("a profile that forbids the forwarder's TLS version fails the handshake, naming TLS_MIN_VERSION", async () => {
    const ca = await TestCa.create();
    const server = await ca.issueServer();
    const client = await ca.issueClient();
    // A forwarder that speaks TLS 1.2 at most (an older image).
    const forwarder = tls.createServer(
      {
        ca: ca.pem,
        cert: server.cert,
        key: server.key,
        requestCert: true,
        rejectUnauthorized: true,
        maxVersion: "TLSv1.2",
      },
      (s) => s.destroy(),
    );
    await new Promise<void>((resolve) => forwarder.listen(0, "127.0.0.1", resolve));
    const port = (forwarder.address() as { port: number }).port;
    try {
      const material = { ca: ca.pem, cert: client.cert, key: client.key, skipNameCheck: true };
      const failure = await waitForForwarder({
        host: "127.0.0.1",
        port,
        tls: { ...material, profile: tlsProfile("VersionTLS13", undefined) },
        signal: AbortSignal.timeout(20_000),
      }).catch((e: unknown) => e as Error);
      expect(failure).toBeInstanceOf(Error);
      expect((failure as Error).message).toMatch(
        /^peer VM 127\.0\.0\.1:\d+: TLS handshake failed: [\s\S]*: the forwarder offers no TLS version or cipher suite that TLS_MIN_VERSION=VersionTLS13 allows$/,
      );
      // The same forwarder is fine under the default profile.
      const again = await waitForForwarder({
        host: "127.0.0.1",
        port,
        tls: material,
        signal: AbortSignal.timeout(3000),
      }).catch((e: unknown) => e as Error);
      expect(String(again)).not.toMatch(/TLS handshake failed/);
    } finally {
      forwarder.close();
    }
  });
});
