// Operator certificates (a daemon with CACERT_FILE, CERT_FILE, CERT_KEY sends no TLS material):
// the provisioner accepts such user-data only when the image holds the forwarder's
// certificates (podvm/build.sh --operator-certs puts them in /etc/peerpod/tls), and the
// forwarder, started as the image's unit starts it, then serves mutual TLS with them: the
// daemon's operator client certificate gets in, one from another CA does not.
import { spawn } from "node:child_process";
import fs from "node:fs/promises";
import path from "node:path";
import tls from "node:tls";
import { describe, expect, it } from "vitest";
import { createTestPki } from "../../test/support/test-certs.ts";
import { freePort, useTestScope } from "../../test/support/test-scope.ts";
import { buildUserData, type ForwarderConfig } from "../userdata/index.ts";
import { IMAGE_TLS_FILES, provision } from "./provision.ts";
import type { UserDataSource } from "./source-error.ts";

const scope = useTestScope("image-tls");
const REPO = path.resolve(import.meta.dirname, "../..");
const TLS_DIR = "/etc/peerpod/tls";

const source = (userData: string): UserDataSource => ({
  name: "test-source",
  read: async () => Buffer.from(userData),
});

async function provisionInto(root: string, config: ForwarderConfig) {
  const lines: string[] = [];
  const run = provision({
    sources: [source(buildUserData(config))],
    root,
    deadlineMs: 1000,
    retryIntervalMs: 100,
    makePodNetns: undefined,
    imageTlsDir: TLS_DIR,
    report: (l) => lines.push(l),
    signal: AbortSignal.timeout(10_000),
  });
  return { result: await run.catch((e: Error) => e), lines };
}

async function imageWithCertificates(root: string, files: Partial<Record<keyof typeof IMAGE_TLS_FILES, string>>) {
  await fs.mkdir(path.join(root, TLS_DIR), { recursive: true, mode: 0o700 });
  for (const [k, content] of Object.entries(files))
    await fs.writeFile(path.join(root, TLS_DIR, IMAGE_TLS_FILES[k as keyof typeof IMAGE_TLS_FILES]), content, {
      mode: 0o600,
    });
}

function handshake(port: number, client: { ca: string; cert: string; key: string }): Promise<string> {
  return new Promise((resolve) => {
    const s = tls.connect({
      host: "127.0.0.1",
      port,
      ca: client.ca,
      cert: client.cert,
      key: client.key,
      checkServerIdentity: () => undefined,
    });
    s.once("secureConnect", () => {
      // TLS 1.3: a refused client certificate shows as the server's alert just after.
      s.once("error", (e) => resolve(`refused: ${e.message}`));
      s.once("close", () => resolve("closed"));
      setTimeout(() => {
        s.destroy();
        resolve("accepted");
      }, 1500);
    });
    s.once("error", (e) => resolve(`refused: ${e.message}`));
  });
}

describe("operator certificates in the image", () => {
  it("provisions user-data without TLS material when the image holds the forwarder's certificates, and the forwarder serves mutual TLS with them", async () => {
    const pki = await createTestPki();
    const root = await scope.tempDir();
    await imageWithCertificates(root, { caCert: pki.server.ca, cert: pki.server.cert, key: pki.server.key });
    const port = await freePort();
    const config: ForwarderConfig = {
      version: 1,
      sandboxId: "sb-op",
      listenPort: port,
      tls: undefined,
      podNetwork: undefined,
    };
    const { result, lines } = await provisionInto(root, config);
    expect(result).toMatchObject({ source: "test-source", tls: "image" });
    expect(lines).toContain(
      "TLS: the daemon sent none; the forwarder serves with the image's operator certificates in /etc/peerpod/tls",
    );
    // The forwarder with the arguments of podvm/files/.../agent-protocol-forwarder.service.
    const unit = await fs.readFile(
      path.join(REPO, "podvm/files/etc/systemd/system/agent-protocol-forwarder.service"),
      "utf8",
    );
    const exec = /^ExecStart=(\S+) (.*)$/m.exec(unit)![2]!.split(" ");
    const args = exec.map((a) => (a.startsWith("/run/") || a.startsWith("/etc/") ? path.join(root, a) : a));
    expect(args).toEqual(expect.arrayContaining(["--ca-cert-file", path.join(root, TLS_DIR, "ca.crt")]));
    const child = spawn(
      process.execPath,
      [path.join(REPO, "src/cli/agent-protocol-forwarder.ts"), ...args, "--listen", "127.0.0.1"],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (out += c.toString()));
    scope.defer(async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await exited;
      }
    });
    for (let i = 0; i < 200 && !out.includes("forwarding the agent protocol"); i++) {
      if (child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(out).toContain("forwarding the agent protocol");
    expect(out).not.toContain("without mutual TLS");
    expect(await handshake(port, pki.client)).toBe("accepted");
    const stranger = await createTestPki();
    expect(await handshake(port, { ...stranger.client, ca: pki.client.ca })).toMatch(/^refused|^closed/);
  });

  it("refuses such user-data when the image has no certificates, or only some of them", async () => {
    const config: ForwarderConfig = {
      version: 1,
      sandboxId: "sb-op",
      listenPort: 15150,
      tls: undefined,
      podNetwork: undefined,
    };
    const bare = await scope.tempDir();
    expect(((await provisionInto(bare, config)).result as Error).message).toBe(
      "user-data from test-source carries no TLS material in /run/peerpod/daemon.json (is the daemon running with DISABLE_TLS?) and the image holds no operator certificates in /etc/peerpod/tls: the agent is never served without it",
    );
    const pki = await createTestPki();
    const half = await scope.tempDir();
    await imageWithCertificates(half, { caCert: pki.server.ca, cert: "not a certificate" });
    expect(((await provisionInto(half, config)).result as Error).message).toContain(
      "and the image's operator certificates are incomplete: /etc/peerpod/tls/tls.crt is not a PEM certificate, /etc/peerpod/tls/tls.key is missing: the agent is never served without it",
    );
  });
});
