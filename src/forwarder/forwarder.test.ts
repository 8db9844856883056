import net from "node:net";
import path from "node:path";
import tls from "node:tls";
import { beforeAll, describe, expect, it } from "vitest";
import { type RelayTestAgent, startRelayTestAgent } from "../../test/support/relay-test-agent.ts";
import { createTestPki, TestCa, type TestPki, type TestTlsMaterial } from "../../test/support/test-certs.ts";
import { useTestScope } from "../../test/support/test-scope.ts";
import { Health } from "../gen/health_pb.js";
import { Client } from "../ttrpc/index.ts";
import { type ForwarderHandle, type ForwarderOptions, startForwarder } from "./forwarder.ts";

let pki: TestPki;
beforeAll(async () => {
  pki = await createTestPki();
});

const scope = useTestScope("fwd");
const tempDir = scope.tempDir;

async function agentAt(socketPath: string): Promise<RelayTestAgent> {
  const agent = await startRelayTestAgent(socketPath);
  scope.defer(() => agent.close());
  return agent;
}

async function forwarder(agentSocketPath: string, options: Partial<ForwarderOptions> = {}): Promise<ForwarderHandle> {
  const fwd = await startForwarder({
    listen: { host: "127.0.0.1", port: 0 },
    agentSocketPath,
    tls: pki.server,
    ...options,
  });
  scope.defer(() => fwd.close());
  return fwd;
}

/** A TLS client; resolves with the socket once the handshake is done (from its side). */
function dialTls(port: number, material: Partial<TestTlsMaterial>): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: "127.0.0.1", port, ca: pki.client.ca, ...material });
    scope.defer(() => void socket.destroy());
    socket.once("secureConnect", () => resolve(socket));
    socket.once("error", reject);
  });
}

/** A Health.Check over the socket: resolves with the status, rejects when the connection fails. */
async function check(socket: net.Socket): Promise<number> {
  const client = new Client(socket);
  scope.defer(() => client.close());
  return (await client.call(Health.method.check, {}, { timeoutMs: 5000 })).status;
}

describe("startForwarder", () => {
  it("relays a client holding a certificate from the CA to the agent", async () => {
    const dir = await tempDir();
    const agent = await agentAt(path.join(dir, "agent.sock"));
    const fwd = await forwarder(agent.socketPath);
    expect(fwd.address.host).toBe("127.0.0.1");
    const socket = await dialTls(fwd.port, pki.client);
    expect(socket.getProtocol()).toMatch(/^TLSv1\.[23]$/);
    expect(await check(socket)).toBe(1);
    expect(agent.connectionsAccepted).toBe(1);
    expect(fwd.connectionCount).toBe(1);
  });

  it("refuses a client without a certificate", async () => {
    const dir = await tempDir();
    const agent = await agentAt(path.join(dir, "agent.sock"));
    const fwd = await forwarder(agent.socketPath);
    // With TLS 1.3 the client may finish its side of the handshake before the server refuses.
    const outcome = dialTls(fwd.port, {}).then(check);
    await expect(outcome).rejects.toThrow();
    expect(agent.connectionsAccepted).toBe(0);
  });

  it("refuses a client whose certificate another CA signed", async () => {
    const dir = await tempDir();
    const agent = await agentAt(path.join(dir, "agent.sock"));
    const fwd = await forwarder(agent.socketPath);
    const stranger = await (await TestCa.create("another CA")).issueClient("intruder");
    const outcome = dialTls(fwd.port, { cert: stranger.cert, key: stranger.key }).then(check);
    await expect(outcome).rejects.toThrow();
    expect(agent.connectionsAccepted).toBe(0);
    expect(fwd.connectionCount).toBe(0);
  });

  it("refuses TLS versions below 1.2", async () => {
    const dir = await tempDir();
    const agent = await agentAt(path.join(dir, "agent.sock"));
    const fwd = await forwarder(agent.socketPath);
    const old = new Promise<tls.TLSSocket>((resolve, reject) => {
      const socket = tls.connect({
        host: "127.0.0.1",
        port: fwd.port,
        ...pki.client,
        minVersion: "TLSv1",
        maxVersion: "TLSv1.1",
        ciphers: "DEFAULT:@SECLEVEL=0",
      });
      scope.defer(() => void socket.destroy());
      socket.once("secureConnect", () => resolve(socket));
      socket.once("error", reject);
    });
    await expect(old).rejects.toThrow();
    expect(agent.connectionsAccepted).toBe(0);
  });

  it("waits for an agent socket that appears a little later", async () => {
    const dir = await tempDir();
    const socketPath = path.join(dir, "agent.sock");
    const fwd = await forwarder(socketPath, { agentRetryForMs: 5000, agentRetryIntervalMs: 20 });
    const socket = await dialTls(fwd.port, pki.client);
    const status = check(socket);
    await new Promise((r) => setTimeout(r, 200));
    await agentAt(socketPath);
    expect(await status).toBe(1);
  });

  it("closes the client connection when the agent socket never appears", async () => {
    const dir = await tempDir();
    const socketPath = path.join(dir, "absent.sock");
    const fwd = await forwarder(socketPath, { agentRetryForMs: 200, agentRetryIntervalMs: 20 });
    const socket = await dialTls(fwd.port, pki.client);
    await new Promise<void>((resolve) => socket.once("close", () => resolve()));
    while (fwd.connectionCount > 0) await new Promise((r) => setTimeout(r, 5));
    // It gave up: an agent that appears now is never dialled for that connection.
    const late = await agentAt(socketPath);
    await new Promise((r) => setTimeout(r, 100));
    expect(late.connectionsAccepted).toBe(0);
  });

  it("closes the client connection when the agent closes its end", async () => {
    const dir = await tempDir();
    const agent = await agentAt(path.join(dir, "agent.sock"));
    const fwd = await forwarder(agent.socketPath);
    const socket = await dialTls(fwd.port, pki.client);
    expect(await check(socket)).toBe(1);
    const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    await agent.close();
    await closed;
    while (fwd.connectionCount > 0) await new Promise((r) => setTimeout(r, 5));
  });

  it("closes the agent connection when the client goes away", async () => {
    const dir = await tempDir();
    const socketPath = path.join(dir, "agent.sock");
    // A bare Unix listener stands in for the agent, to watch its side of the connection.
    const ends: Promise<void>[] = [];
    const agent = net.createServer((s) => {
      ends.push(new Promise((resolve) => s.once("close", () => resolve())));
      s.resume(); // an end is only noticed by reading
    });
    await new Promise<void>((resolve) => agent.listen(socketPath, resolve));
    scope.defer(() => new Promise((resolve) => agent.close(resolve)));
    const fwd = await forwarder(socketPath);
    const socket = await dialTls(fwd.port, pki.client);
    socket.write("x");
    while (ends.length === 0) await new Promise((r) => setTimeout(r, 5));
    socket.destroy();
    await ends[0];
    while (fwd.connectionCount > 0) await new Promise((r) => setTimeout(r, 5));
  });

  it("relays in plaintext when no TLS material is given", async () => {
    const dir = await tempDir();
    const agent = await agentAt(path.join(dir, "agent.sock"));
    const fwd = await forwarder(agent.socketPath, { tls: undefined });
    const socket = net.connect(fwd.port, "127.0.0.1");
    scope.defer(() => void socket.destroy());
    expect(await check(socket)).toBe(1);
  });

  it("close() drops connections still handshaking or relaying", async () => {
    const dir = await tempDir();
    const agent = await agentAt(path.join(dir, "agent.sock"));
    const fwd = await forwarder(agent.socketPath);
    const relayed = await dialTls(fwd.port, pki.client);
    expect(await check(relayed)).toBe(1);
    // A connection that never starts its handshake.
    const idle = net.connect(fwd.port, "127.0.0.1");
    scope.defer(() => void idle.destroy());
    await new Promise<void>((resolve) => idle.once("connect", () => resolve()));
    const idleClosed = new Promise<void>((resolve) => idle.once("close", () => resolve()));
    await fwd.close();
    await idleClosed;
    await new Promise<void>((resolve) => (relayed.destroyed ? resolve() : relayed.once("close", () => resolve())));
  });
});
