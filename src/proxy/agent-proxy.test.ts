import fs from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { BLOCKING_CONTAINER, type RelayTestAgent, startRelayTestAgent } from "../../test/support/relay-test-agent.ts";
import { createTestPki, TestCa, type TestPki } from "../../test/support/test-certs.ts";
import { freePort, useTestScope } from "../../test/support/test-scope.ts";
import { type ForwarderHandle, startForwarder } from "../forwarder/index.ts";
import { AgentService } from "../gen/agent_pb.js";
import { Health } from "../gen/health_pb.js";
import {
  Client,
  Code,
  decodeResponse,
  encodeRequestFrame,
  type Frame,
  FrameDecoder,
  MessageType,
  TtrpcError,
} from "../ttrpc/index.ts";
import { AgentProxy, type AgentProxyOptions, SANDBOX_STOPPED } from "./agent-proxy.ts";

let pki: TestPki;
beforeAll(async () => {
  pki = await createTestPki();
});

const scope = useTestScope("proxy");
const tempDir = scope.tempDir;

async function agentAt(dir: string): Promise<RelayTestAgent> {
  const agent = await startRelayTestAgent(path.join(dir, "agent.sock"));
  scope.defer(() => agent.close());
  return agent;
}

async function forwarderFor(agent: RelayTestAgent, port = 0, plaintext = false): Promise<ForwarderHandle> {
  const fwd = await startForwarder({
    listen: { host: "127.0.0.1", port },
    agentSocketPath: agent.socketPath,
    tls: plaintext ? undefined : pki.server,
  });
  scope.defer(() => fwd.close());
  return fwd;
}

async function proxyTo(dir: string, port: number, options: Partial<AgentProxyOptions> = {}): Promise<AgentProxy> {
  const proxy = new AgentProxy({
    socketPath: path.join(dir, "pod", "agent.ttrpc"),
    target: () => ({ host: "127.0.0.1", port }),
    tls: pki.client,
    dialTimeoutMs: 5000,
    retryIntervalMs: 20,
    redialWindowMs: 0,
    ...options,
  });
  await proxy.start();
  scope.defer(() => proxy.stop(0));
  return proxy;
}

async function shimClient(proxy: AgentProxy): Promise<Client> {
  const client = await Client.connect(proxy.socketPath);
  scope.defer(() => client.close());
  return client;
}

/** The full path: agent, forwarder (mutual TLS), proxy, and a shim-side client. */
async function relay(options: Partial<AgentProxyOptions> = {}) {
  const dir = await tempDir();
  const agent = await agentAt(dir);
  const forwarder = await forwarderFor(agent);
  const proxy = await proxyTo(dir, forwarder.port, options);
  const client = await shimClient(proxy);
  return { dir, agent, forwarder, proxy, client };
}

function readStdout(client: Client, execId: string, containerId = BLOCKING_CONTAINER, len = 32768) {
  return client.call(AgentService.method.readStdout, { containerId, execId, len });
}

async function rejection(p: Promise<unknown>): Promise<TtrpcError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof TtrpcError) return err;
    throw err;
  }
  throw new Error("the call succeeded");
}

/** A raw connection to the proxy's socket, collecting whole frames. */
async function rawShim(socketPath: string) {
  const socket = net.connect(socketPath);
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  scope.defer(() => void socket.destroy());
  const frames: Frame[] = [];
  const decoder = new FrameDecoder();
  socket.on("data", (chunk: Buffer) =>
    decoder.push(chunk, { frame: (f) => frames.push({ ...f, data: Buffer.from(f.data) }), oversized: () => {} }),
  );
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  socket.on("error", () => {});
  const until = async (n: number) => {
    const deadline = Date.now() + 5000;
    while (frames.length < n) {
      if (Date.now() > deadline) throw new Error(`only ${frames.length} of ${n} frames arrived`);
      await new Promise((r) => setTimeout(r, 5));
    }
    return frames;
  };
  return { socket, frames, until, closed };
}

function checkRequest(streamId: number): Buffer {
  return encodeRequestFrame(streamId, {
    service: "grpc.Health",
    method: "Check",
    payload: new Uint8Array(0),
    timeoutNano: 0,
    metadata: [],
  });
}

describe("AgentProxy", () => {
  it("relays calls from the shim's socket through mutual TLS to the agent", async () => {
    const { client, agent } = await relay();
    expect((await client.call(Health.method.check, {})).status).toBe(1);
    const big = await readStdout(client, "e1", "c1", 32768);
    expect(big.data.length).toBe(32768);
    expect(Buffer.from(big.data).every((b) => b === 0x61)).toBe(true);
    // One shim connection is one forwarder connection, however many calls it carries.
    expect(agent.connectionsAccepted).toBe(1);
  });

  it("keeps 50 long polls open on one shim connection and delivers their answers out of order", async () => {
    const { client, agent, proxy } = await relay();
    const ids = Array.from({ length: 50 }, (_, i) => `p${i}`);
    const calls = ids.map((id) => readStdout(client, id).then((r) => ({ id, data: Buffer.from(r.data).toString() })));
    await agent.untilBlocked(50);
    const settled: string[] = [];
    calls.forEach((c) => void c.then((r) => settled.push(r.id)));
    // Release in a scrambled order; each answer must reach the call that asked for it.
    const order = [...ids].sort((a, b) => ((Number(a.slice(1)) * 37) % 50) - ((Number(b.slice(1)) * 37) % 50));
    for (const id of order) {
      expect(agent.release(id)).toBe(true);
      await new Promise((r) => setTimeout(r, 1));
    }
    const results = await Promise.all(calls);
    for (const r of results) expect(r.data).toBe(`reply-${r.id}`);
    expect(settled).toEqual(order);
    expect(proxy.connectionCount).toBe(1);
    expect(agent.connectionsAccepted).toBe(1);
  });

  it("retries the first dial until a late forwarder starts, holding the calls made meanwhile", async () => {
    const dir = await tempDir();
    const agent = await agentAt(dir);
    const port = await freePort();
    const proxy = await proxyTo(dir, port, { dialTimeoutMs: 10_000 });
    const client = await shimClient(proxy);
    let settled = 0;
    const check = client.call(Health.method.check, {}).finally(() => settled++);
    const read = readStdout(client, "early", "c", 100).finally(() => settled++);
    await new Promise((r) => setTimeout(r, 400));
    // Held, not failed, while nothing listens.
    expect(settled).toBe(0);
    await forwarderFor(agent, port);
    expect((await check).status).toBe(1);
    expect((await read).data.length).toBe(100);
    expect(agent.connectionsAccepted).toBe(1);
  });

  it("answers queued calls UNAVAILABLE naming the address when the first dial gives up", async () => {
    const dir = await tempDir();
    const port = await freePort();
    const proxy = await proxyTo(dir, port, { dialTimeoutMs: 300 });
    const client = await shimClient(proxy);
    const err = await rejection(client.call(Health.method.check, {}));
    expect(err.code).toBe(Code.UNAVAILABLE);
    expect(err.statusMessage).toBe(`agent proxy: peer VM 127.0.0.1:${port} not reachable: ECONNREFUSED`);
    expect(client.closed).toBe(false);
  });

  it("answers calls under way UNAVAILABLE when the forwarder dies, keeps the shim connection, and recovers", async () => {
    const { client, agent, forwarder } = await relay();
    const port = forwarder.port;
    const pending = ["k1", "k2", "k3"].map((id) => rejection(readStdout(client, id)));
    await agent.untilBlocked(3);
    await forwarder.close();
    for (const err of await Promise.all(pending)) {
      expect(err.code).toBe(Code.UNAVAILABLE);
      expect(err.statusMessage).toMatch(
        new RegExp(`^agent proxy: connection to peer VM 127\\.0\\.0\\.1:${port} lost: `),
      );
    }
    // While the forwarder is away: a clear answer, not a dropped connection.
    const down = await rejection(client.call(Health.method.check, {}));
    expect(down.code).toBe(Code.UNAVAILABLE);
    expect(down.statusMessage).toBe(`agent proxy: peer VM 127.0.0.1:${port} not reachable: ECONNREFUSED`);
    expect(client.closed).toBe(false);
    // The forwarder comes back on the same address: the same shim connection works again.
    await forwarderFor(agent, port);
    expect((await client.call(Health.method.check, {})).status).toBe(1);
    expect((await readStdout(client, "after", "c", 10)).data.length).toBe(10);
  });

  it("refuses a forwarder whose certificate another CA signed, answering UNAVAILABLE with the TLS error", async () => {
    const dir = await tempDir();
    const agent = await agentAt(dir);
    const forwarder = await forwarderFor(agent);
    const otherCa = await TestCa.create("another CA");
    // A certificate does not fix itself: no waiting out the first-dial window, which here
    // outlasts the test's own timeout.
    const proxy = await proxyTo(dir, forwarder.port, {
      tls: { ...pki.client, ca: otherCa.pem },
      dialTimeoutMs: 3_600_000,
    });
    const client = await shimClient(proxy);
    const err = await rejection(client.call(Health.method.check, {}));
    expect(err.code).toBe(Code.UNAVAILABLE);
    expect(err.statusMessage).toMatch(/^agent proxy: peer VM 127\.0\.0\.1:\d+ not reachable: .*(certificate|issuer)/);
    expect(agent.connectionsAccepted).toBe(0);
  });

  it("refuses a forwarder whose certificate does not carry the expected name", async () => {
    const dir = await tempDir();
    const agent = await agentAt(dir);
    const forwarder = await forwarderFor(agent);
    const proxy = await proxyTo(dir, forwarder.port, {
      tls: { ...pki.client, servername: "vm-other.peerpod.invalid" },
    });
    const client = await shimClient(proxy);
    const err = await rejection(client.call(Health.method.check, {}));
    expect(err.code).toBe(Code.UNAVAILABLE);
    expect(err.statusMessage).toMatch(/vm-other\.peerpod\.invalid/);
    expect(agent.connectionsAccepted).toBe(0);
  });

  it("relays in plaintext when TLS is disabled", async () => {
    const dir = await tempDir();
    const agent = await agentAt(dir);
    const forwarder = await forwarderFor(agent, 0, true);
    const proxy = await proxyTo(dir, forwarder.port, { tls: undefined });
    const client = await shimClient(proxy);
    expect((await client.call(Health.method.check, {})).status).toBe(1);
  });

  it("serves a socket only its owner may use, in a directory it creates", async () => {
    const { proxy } = await relay();
    const stat = await fs.stat(proxy.socketPath);
    expect(stat.isSocket()).toBe(true);
    expect(stat.mode & 0o777).toBe(0o600);
  });

  it("after stop, answers UNAVAILABLE until the linger passes, then removes the socket", async () => {
    const { client, agent, proxy } = await relay();
    const pending = rejection(readStdout(client, "held"));
    await agent.untilBlocked(1);
    await proxy.stop(400);
    const err = await pending;
    expect(err.code).toBe(Code.UNAVAILABLE);
    expect(err.statusMessage).toBe(SANDBOX_STOPPED);
    // Still answering, on the old connection and on a new one.
    const again = await rejection(client.call(Health.method.check, {}));
    expect(again.statusMessage).toBe(SANDBOX_STOPPED);
    const late = await Client.connect(proxy.socketPath);
    scope.defer(() => late.close());
    expect((await rejection(late.call(Health.method.check, {}))).statusMessage).toBe(SANDBOX_STOPPED);
    expect((await fs.stat(proxy.socketPath)).isSocket()).toBe(true);
    await proxy.closed;
    await expect(fs.stat(proxy.socketPath)).rejects.toMatchObject({ code: "ENOENT" });
    // The directory made for the socket goes with it.
    await expect(fs.stat(path.dirname(proxy.socketPath))).rejects.toMatchObject({ code: "ENOENT" });
    expect(client.closed).toBe(true);
    // The forwarder connection was dropped at stop: the agent saw the call cancelled.
    expect(agent.blockedCalls).toBe(0);
  });

  it("stop(0) closes at once and frees the socket path for a new proxy", async () => {
    const { dir, client, proxy, forwarder } = await relay();
    await proxy.stop(0);
    await expect(fs.stat(proxy.socketPath)).rejects.toMatchObject({ code: "ENOENT" });
    await new Promise((r) => setTimeout(r, 20));
    expect(client.closed).toBe(true);
    const next = await proxyTo(dir, forwarder.port);
    const c2 = await shimClient(next);
    expect((await c2.call(Health.method.check, {})).status).toBe(1);
  });

  it("answers an oversized frame RESOURCE_EXHAUSTED and keeps serving the connection", async () => {
    const { proxy } = await relay();
    const shim = await rawShim(proxy.socketPath);
    const header = Buffer.alloc(10);
    const size = (4 << 20) + 1;
    header.writeUInt32BE(size, 0);
    header.writeUInt32BE(1, 4);
    header[8] = MessageType.Request;
    shim.socket.write(header);
    shim.socket.write(Buffer.alloc(size));
    shim.socket.write(checkRequest(3));
    const frames = await shim.until(2);
    expect(frames.map((f) => f.streamId)).toEqual([1, 3]);
    const first = decodeResponse(frames[0]!.data);
    expect(first.status?.code).toBe(Code.RESOURCE_EXHAUSTED);
    expect(first.status?.message).toMatch(/4194305 bytes exceeds the maximum message size of 4194304/);
    expect(decodeResponse(frames[1]!.data).status).toBeUndefined();
  });

  it("closes only the shim connection that sends garbage", async () => {
    const { proxy, client } = await relay();
    const bad = await rawShim(proxy.socketPath);
    const garbage = Buffer.from("00000004000000010907deadbeef", "hex"); // message type 9
    bad.socket.write(garbage);
    await bad.closed;
    expect(bad.frames).toEqual([]);
    const evenId = await rawShim(proxy.socketPath);
    evenId.socket.write(checkRequest(2));
    await evenId.closed;
    expect((await client.call(Health.method.check, {})).status).toBe(1);
  });

  it("answers RESOURCE_EXHAUSTED for requests beyond the queue bound while dialing", async () => {
    const dir = await tempDir();
    const agent = await agentAt(dir);
    const port = await freePort();
    const proxy = await proxyTo(dir, port, { maxQueuedFrames: 2, dialTimeoutMs: 10_000 });
    const client = await shimClient(proxy);
    const queued = [readStdout(client, "q1", "c", 1), readStdout(client, "q2", "c", 2)];
    const refused = await rejection(readStdout(client, "q3", "c", 3));
    expect(refused.code).toBe(Code.RESOURCE_EXHAUSTED);
    await forwarderFor(agent, port);
    expect((await Promise.all(queued)).map((r) => r.data.length)).toEqual([1, 2]);
  });

  it("relays many large replies at once intact, whatever the socket buffers do", async () => {
    const { client } = await relay();
    const size = 1 << 20;
    const replies = await Promise.all(Array.from({ length: 48 }, (_, i) => readStdout(client, `big${i}`, "c", size)));
    for (const r of replies) {
      expect(r.data.length).toBe(size);
      expect(r.data[0]).toBe(0x61);
      expect(r.data[size - 1]).toBe(0x61);
    }
  });

  it("counts the bytes relayed each way", async () => {
    const counted = { to_vm: 0, from_vm: 0 };
    const { client } = await relay({ onBytes: (direction, n) => (counted[direction] += n) });
    await readStdout(client, "e", "c", 32768);
    expect(counted.to_vm).toBeGreaterThan(10);
    expect(counted.from_vm).toBeGreaterThan(32768);
  });
});
