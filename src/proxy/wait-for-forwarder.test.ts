import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { type RelayTestAgent, startRelayTestAgent } from "../../test/support/relay-test-agent.ts";
import { createTestPki, TestCa, type TestPki } from "../../test/support/test-certs.ts";
import { freePort, useTestScope } from "../../test/support/test-scope.ts";
import { type ForwarderHandle, startForwarder } from "../forwarder/index.ts";
import { waitForForwarder } from "./wait-for-forwarder.ts";

let pki: TestPki;
beforeAll(async () => {
  pki = await createTestPki();
});

const scope = useTestScope("wait");
const tempDir = scope.tempDir;

async function agentAt(socketPath: string): Promise<RelayTestAgent> {
  const agent = await startRelayTestAgent(socketPath);
  scope.defer(() => agent.close());
  return agent;
}

async function forwarder(agentSocketPath: string, port: number, tls = pki.server): Promise<ForwarderHandle> {
  const fwd = await startForwarder({
    listen: { host: "127.0.0.1", port },
    agentSocketPath,
    tls,
    agentRetryForMs: 100,
    agentRetryIntervalMs: 20,
  });
  scope.defer(() => fwd.close());
  return fwd;
}

describe("waitForForwarder", () => {
  it("resolves once a forwarder that starts late answers a Health.Check", async () => {
    const dir = await tempDir();
    const agent = await agentAt(path.join(dir, "agent.sock"));
    const port = await freePort();
    let listening = false;
    setTimeout(async () => {
      await forwarder(agent.socketPath, port);
      listening = true;
    }, 300);
    await waitForForwarder({
      host: "127.0.0.1",
      port,
      tls: pki.client,
      signal: AbortSignal.timeout(10_000),
      retryIntervalMs: 20,
    });
    // It kept retrying the refused port until the forwarder listened, then reached the agent.
    expect(listening).toBe(true);
    expect(agent.connectionsAccepted).toBeGreaterThanOrEqual(1);
  });

  it("keeps waiting while the forwarder listens but its agent does not", async () => {
    const dir = await tempDir();
    const socketPath = path.join(dir, "agent.sock");
    const fwd = await forwarder(socketPath, 0);
    let done = false;
    const waiting = waitForForwarder({
      host: "127.0.0.1",
      port: fwd.port,
      tls: pki.client,
      signal: AbortSignal.timeout(10_000),
      retryIntervalMs: 20,
    }).then(() => {
      done = true;
    });
    await new Promise((r) => setTimeout(r, 400));
    expect(done).toBe(false);
    await agentAt(socketPath);
    await waiting;
    expect(done).toBe(true);
  });

  it("on abort, names the address, the time waited and the last failure", async () => {
    const port = await freePort();
    const attempt = waitForForwarder({
      host: "127.0.0.1",
      port,
      tls: pki.client,
      signal: AbortSignal.timeout(300),
      retryIntervalMs: 20,
    });
    await expect(attempt).rejects.toThrow(
      new RegExp(`^peer VM 127\\.0\\.0\\.1:${port} not reachable after [\\d.]+m?s: ECONNREFUSED$`),
    );
  });

  it("fails at once when the forwarder's certificate is not from our CA", async () => {
    const dir = await tempDir();
    const agent = await agentAt(path.join(dir, "agent.sock"));
    const other = await TestCa.create("another CA");
    const fwd = await forwarder(agent.socketPath, 0, await other.issueServer());
    // A signal that never fires: a wait that retried the handshake would never end.
    const attempt = waitForForwarder({
      host: "127.0.0.1",
      port: fwd.port,
      tls: pki.client,
      signal: new AbortController().signal,
      retryIntervalMs: 20,
    });
    await expect(attempt).rejects.toThrow(/^peer VM 127\.0\.0\.1:\d+: TLS handshake failed: .*(certificate|issuer)/);
    expect(agent.connectionsAccepted).toBe(0);
  });

  it("reports a forwarder that drops us after the handshake (our certificate refused)", async () => {
    const dir = await tempDir();
    const agent = await agentAt(path.join(dir, "agent.sock"));
    const fwd = await forwarder(agent.socketPath, 0);
    const stranger = await (await TestCa.create("another CA")).issueClient();
    const attempt = waitForForwarder({
      host: "127.0.0.1",
      port: fwd.port,
      tls: { ...pki.client, cert: stranger.cert, key: stranger.key },
      signal: AbortSignal.timeout(1500),
      retryIntervalMs: 20,
    });
    // TLS 1.3 finishes the client's side first; the refusal then shows only as a closed connection.
    await expect(attempt).rejects.toThrow(
      /^peer VM 127\.0\.0\.1:\d+ not reachable after [\d.]+m?s: connection closed before the agent answered/,
    );
    expect(agent.connectionsAccepted).toBe(0);
  });
});
