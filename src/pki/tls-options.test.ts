import { mkdtemp, rm } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ConnectionOptions, connect, createServer, type TLSSocket, type TlsOptions } from "node:tls";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { CertificateAuthority } from "./ca.ts";
import type { IssuedCertificate } from "./issue.ts";
import { peerVmServerName } from "./server-name.ts";
import { clientTlsOptions, MIN_TLS_VERSION, serverTlsOptions } from "./tls-options.ts";

const SANDBOX = "3b5e0c7f9a1d2e4f6a8b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f";

let root: string;
let ca: CertificateAuthority;
let otherCa: CertificateAuthority;
let vm: IssuedCertificate;
let daemon: IssuedCertificate;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "pki-tls-"));
  ca = await CertificateAuthority.loadOrCreate(join(root, "ours"));
  otherCa = await CertificateAuthority.loadOrCreate(join(root, "theirs"));
  vm = await ca.issueServerCertificate({
    commonName: SANDBOX,
    dnsNames: [peerVmServerName(SANDBOX)],
    ipAddresses: ["127.0.0.1"],
  });
  daemon = await ca.issueClientCertificate({ commonName: "cloud-api-adaptor/worker-0" });
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

interface Outcome {
  /** What the client read back; "pong:ping" when the exchange worked. */
  readonly reply: string;
  readonly clientError: (Error & { code?: string }) | undefined;
  /** Connections the server accepted after verifying the client. */
  readonly accepted: number;
  readonly serverErrors: readonly Error[];
  readonly peerCommonName: string | undefined;
  readonly protocol: string | null | undefined;
}

/** Runs one TLS exchange over loopback: the client sends "ping", the server answers "pong:ping". */
async function exchange(serverOptions: TlsOptions, clientOptions: ConnectionOptions): Promise<Outcome> {
  const serverErrors: Error[] = [];
  const sockets = new Set<TLSSocket>();
  let accepted = 0;
  let peerCommonName: string | undefined;
  const server = createServer(serverOptions, (socket) => {
    accepted += 1;
    const subject = socket.getPeerCertificate().subject as Record<string, string> | undefined;
    peerCommonName = subject?.["CN"];
    socket.on("data", (data) => socket.end(`pong:${data.toString()}`));
    socket.on("error", (error) => serverErrors.push(error));
  });
  server.on("secureConnection", (socket: TLSSocket) => sockets.add(socket));
  server.on("tlsClientError", (error) => serverErrors.push(error));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  try {
    const result = await new Promise<Pick<Outcome, "reply" | "clientError" | "protocol">>((resolve) => {
      let reply = "";
      let protocol: string | null | undefined;
      const socket = connect({ ...clientOptions, host: "127.0.0.1", port });
      const timer = setTimeout(() => {
        socket.destroy();
        resolve({ reply, clientError: new Error("timed out"), protocol });
      }, 10_000);
      socket.on("secureConnect", () => {
        protocol = socket.getProtocol();
        socket.write("ping");
      });
      socket.on("data", (data: Buffer) => {
        reply += data.toString();
      });
      socket.on("error", (error) => {
        clearTimeout(timer);
        resolve({ reply, clientError: error, protocol });
      });
      socket.on("close", () => {
        clearTimeout(timer);
        resolve({ reply, clientError: undefined, protocol });
      });
    });
    return { ...result, accepted, serverErrors, peerCommonName };
  } finally {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

async function expectServerRefusal(outcome: Outcome): Promise<void> {
  expect(outcome.reply).toBe("");
  expect(outcome.accepted).toBe(0);
  await vi.waitFor(() => expect(outcome.serverErrors.length).toBeGreaterThan(0));
}

describe("mutual TLS between the daemon's proxy and a VM's forwarder", () => {
  it("completes a handshake and exchanges bytes, checking the VM by its sandbox name", async () => {
    const outcome = await exchange(
      serverTlsOptions(vm),
      clientTlsOptions(daemon, { serverName: peerVmServerName(SANDBOX) }),
    );
    expect(outcome.clientError).toBeUndefined();
    expect(outcome.reply).toBe("pong:ping");
    expect(outcome.accepted).toBe(1);
    expect(outcome.peerCommonName).toBe("cloud-api-adaptor/worker-0");
    expect(["TLSv1.2", "TLSv1.3"]).toContain(outcome.protocol);
  });

  it("also works over TLS 1.2", async () => {
    const client = {
      ...clientTlsOptions(daemon, { serverName: peerVmServerName(SANDBOX) }),
      maxVersion: "TLSv1.2" as const,
    };
    const outcome = await exchange(serverTlsOptions(vm), client);
    expect(outcome.reply).toBe("pong:ping");
    expect(outcome.protocol).toBe("TLSv1.2");
  });

  it("checks the VM by its IP address when no server name is given", async () => {
    const outcome = await exchange(serverTlsOptions(vm), clientTlsOptions(daemon));
    expect(outcome.clientError).toBeUndefined();
    expect(outcome.reply).toBe("pong:ping");
  });

  it("asks for TLS 1.2 at least on both sides", () => {
    expect(MIN_TLS_VERSION).toBe("TLSv1.2");
    expect(serverTlsOptions(vm).minVersion).toBe("TLSv1.2");
    expect(clientTlsOptions(daemon).minVersion).toBe("TLSv1.2");
    expect(serverTlsOptions(vm)).toMatchObject({ requestCert: true, rejectUnauthorized: true, ca: ca.certPem });
    expect(clientTlsOptions(daemon)).toMatchObject({ rejectUnauthorized: true, ca: ca.certPem });
  });

  it("refuses a client without a certificate", async () => {
    const anonymous: ConnectionOptions = {
      ca: ca.certPem,
      servername: peerVmServerName(SANDBOX),
      minVersion: "TLSv1.2",
    };
    await expectServerRefusal(await exchange(serverTlsOptions(vm), anonymous));
  });

  it("refuses a client whose certificate comes from another CA", async () => {
    const stranger = await otherCa.issueClientCertificate({ commonName: "cloud-api-adaptor/worker-0" });
    const client = { ...clientTlsOptions(stranger, { serverName: peerVmServerName(SANDBOX) }), ca: ca.certPem };
    await expectServerRefusal(await exchange(serverTlsOptions(vm), client));
  });

  it("refuses a client presenting a VM's server certificate", async () => {
    const otherVm = await ca.issueServerCertificate({ commonName: "other", dnsNames: [peerVmServerName("other")] });
    const client = clientTlsOptions(otherVm, { serverName: peerVmServerName(SANDBOX) });
    await expectServerRefusal(await exchange(serverTlsOptions(vm), client));
  });

  it("refuses a server whose certificate comes from another CA", async () => {
    const impostor = await otherCa.issueServerCertificate({
      commonName: SANDBOX,
      dnsNames: [peerVmServerName(SANDBOX)],
    });
    const server = { ...serverTlsOptions(impostor), ca: ca.certPem };
    const outcome = await exchange(server, clientTlsOptions(daemon, { serverName: peerVmServerName(SANDBOX) }));
    expect(outcome.reply).toBe("");
    expect(outcome.clientError?.code).toBe("UNABLE_TO_VERIFY_LEAF_SIGNATURE");
  });

  it("refuses the VM of another sandbox", async () => {
    const outcome = await exchange(
      serverTlsOptions(vm),
      clientTlsOptions(daemon, { serverName: peerVmServerName("another-sandbox") }),
    );
    expect(outcome.reply).toBe("");
    expect(outcome.clientError?.code).toBe("ERR_TLS_CERT_ALTNAME_INVALID");
  });

  it("refuses a VM whose certificate lacks the dialled address", async () => {
    const nameOnly = await ca.issueServerCertificate({ commonName: SANDBOX, dnsNames: [peerVmServerName(SANDBOX)] });
    const outcome = await exchange(serverTlsOptions(nameOnly), clientTlsOptions(daemon));
    expect(outcome.reply).toBe("");
    expect(outcome.clientError?.code).toBe("ERR_TLS_CERT_ALTNAME_INVALID");
  });
});
