// peerpod-relay in process, driven by the control plane's client: agent sockets relayed to a
// real forwarder over mutual TLS, Hypervisor calls held while no control plane is attached and
// sent again when one dies mid-call, and the control plane's records made the relay's truth.
import fs from "node:fs/promises";
import path from "node:path";
import pino from "pino";
import { beforeAll, describe, expect, it } from "vitest";
import { type RelayTestAgent, startRelayTestAgent } from "../../test/support/relay-test-agent.ts";
import { createTestPki, type TestPki } from "../../test/support/test-certs.ts";
import { useTestScope } from "../../test/support/test-scope.ts";
import { startForwarder } from "../forwarder/index.ts";
import { Health } from "../gen/health_pb.js";
import { Hypervisor } from "../gen/hypervisor_pb.js";
import { Client, Code, Server } from "../ttrpc/index.ts";
import { RelayClient, RemoteRelays } from "./client/index.ts";
import { type RelayHandle, runRelay } from "./index.ts";

const scope = useTestScope("relay");
const logger = pino({ level: "silent" });
const nameOf = (sandboxId: string) => `vm-${sandboxId}.peerpod.invalid`;

let pki: TestPki;
beforeAll(async () => {
  pki = await createTestPki({ dnsNames: [nameOf("s1")], ipAddresses: [] });
});

interface Bed {
  readonly dir: string;
  readonly podsDir: string;
  readonly hypervisorSocket: string;
  readonly relaySocket: string;
  relay: RelayHandle;
  restartRelay(): Promise<void>;
  client(): Promise<RelayClient>;
}

async function bed(holdTimeoutMs = 60_000): Promise<Bed> {
  const dir = await scope.tempDir();
  const b = {
    dir,
    podsDir: path.join(dir, "pods"),
    hypervisorSocket: path.join(dir, "hypervisor.sock"),
    relaySocket: path.join(dir, "relay.sock"),
  };
  const start = () =>
    runRelay(
      {
        socketPath: b.hypervisorSocket,
        podsDir: b.podsDir,
        relaySocket: b.relaySocket,
        proxyTimeoutMs: 2000,
        holdTimeoutMs,
        logLevel: "silent",
      },
      logger,
    );
  const handle: Bed = {
    ...b,
    relay: await start(),
    async restartRelay() {
      await handle.relay.stop();
      handle.relay = await start();
    },
    async client() {
      const c = await RelayClient.connect(
        {
          relaySocket: b.relaySocket,
          clientTls: { caPem: pki.client.ca, certPem: pki.client.cert, keyPem: pki.client.key },
          controlPlane: "test",
          expect: { hypervisorSocket: b.hypervisorSocket, podsDir: b.podsDir },
          logger,
          retryIntervalMs: 20,
        },
        AbortSignal.timeout(5000),
      );
      scope.defer(() => c.close());
      return c;
    },
  };
  scope.defer(() => handle.relay.stop());
  return handle;
}

async function vm(dir: string): Promise<{ agent: RelayTestAgent; port: number }> {
  const agent = await startRelayTestAgent(path.join(dir, `agent-${Math.random().toString(36).slice(2)}.sock`));
  scope.defer(() => agent.close());
  const fwd = await startForwarder({
    listen: { host: "127.0.0.1", port: 0 },
    agentSocketPath: agent.socketPath,
    tls: pki.server,
    agentRetryForMs: 100,
    agentRetryIntervalMs: 20,
  });
  scope.defer(() => fwd.close());
  return { agent, port: fwd.port };
}

async function connect(socketPath: string): Promise<Client> {
  const c = await Client.connect(socketPath);
  scope.defer(() => c.close());
  return c;
}

/** A control plane serving Version (and StartVM, which calls `onStart`) through the relay. */
function controlPlane(onStart: () => Promise<void> = async () => {}): { server: Server; starts: string[] } {
  const starts: string[] = [];
  const server = new Server();
  server.register(Hypervisor, {
    version: () => ({ version: "cp" }),
    startVM: async (req) => {
      starts.push(req.id);
      await onStart();
      return {};
    },
  });
  scope.defer(() => server.close());
  return { server, starts };
}

describe("agent sockets", () => {
  it("relays to the VM whose certificate names the sandbox and refuses another sandbox's VM", async () => {
    const b = await bed();
    const { port } = await vm(b.dir);
    const relays = new RemoteRelays({
      client: await b.client(),
      clientTls: { caPem: pki.client.ca, certPem: pki.client.cert, keyPem: pki.client.key },
      serverName: nameOf,
      logger,
      retryIntervalMs: 20,
    });
    const target = { host: "127.0.0.1", port };
    await relays.waitForForwarder(target, AbortSignal.timeout(5000), "s1");
    await expect(relays.waitForForwarder(target, AbortSignal.timeout(5000), "s2")).rejects.toThrow(
      /TLS handshake failed/,
    );

    await relays.create("s1", path.join(b.podsDir, "s1", "agent.ttrpc"), target).start();
    await relays.create("s2", path.join(b.podsDir, "s2", "agent.ttrpc"), target).start();
    expect((await fs.stat(path.join(b.podsDir, "s1", "agent.ttrpc"))).mode & 0o777).toBe(0o600);
    const c1 = await connect(path.join(b.podsDir, "s1", "agent.ttrpc"));
    const c2 = await connect(path.join(b.podsDir, "s2", "agent.ttrpc"));
    expect((await c1.call(Health.method.check, {})).status).toBe(1);
    await expect(c2.call(Health.method.check, {})).rejects.toMatchObject({
      code: Code.UNAVAILABLE,
      statusMessage: expect.stringContaining(nameOf("s2")),
    });
  });

  it("serves idempotently, refuses paths outside PODS_DIR and bad ids by name, and stops", async () => {
    const b = await bed();
    const { port } = await vm(b.dir);
    const client = await b.client();
    const spec = {
      sandboxId: "s1",
      socketPath: path.join(b.podsDir, "s1", "agent.ttrpc"),
      host: "127.0.0.1",
      port,
      serverName: nameOf("s1"),
    };
    expect(await client.call("Serve", spec)).toEqual({ changed: true });
    expect(await client.call("Serve", spec)).toEqual({ changed: false });
    await expect(
      client.call("Serve", { ...spec, socketPath: path.join(b.dir, "elsewhere.sock") }),
    ).rejects.toMatchObject({
      code: Code.INVALID_ARGUMENT,
      message: expect.stringContaining(`must be <dir>/<file> inside PODS_DIR ${b.podsDir}`),
    });
    await expect(client.call("Serve", { ...spec, sandboxId: "../x" })).rejects.toMatchObject({
      code: Code.INVALID_ARGUMENT,
      message: expect.stringContaining('"../x"'),
    });
    expect((await client.call("List", {})).sandboxes).toEqual([{ ...spec, connections: 0 }]);
    expect(await client.call("Stop", { sandboxId: "s1", lingerMs: 0 })).toEqual({ wasServed: true });
    expect(await client.call("Stop", { sandboxId: "s1", lingerMs: 0 })).toEqual({ wasServed: false });
    await expect(fs.stat(spec.socketPath)).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("after a relay restart, sync serves every wanted sandbox again and stops the unwanted", async () => {
    const b = await bed();
    const { port } = await vm(b.dir);
    const client = await b.client();
    const relays = new RemoteRelays({
      client,
      clientTls: { caPem: pki.client.ca, certPem: pki.client.cert, keyPem: pki.client.key },
      serverName: nameOf,
      logger,
    });
    client.onReconnected(async () => void (await relays.sync()));
    const target = { host: "127.0.0.1", port };
    await relays.create("s1", path.join(b.podsDir, "s1", "agent.ttrpc"), target).start();
    // Served behind our back (as if by a control plane whose record is gone): sync stops it.
    await client.call("Serve", {
      sandboxId: "stale",
      socketPath: path.join(b.podsDir, "stale", "agent.ttrpc"),
      host: "127.0.0.1",
      port,
      serverName: nameOf("stale"),
    });
    expect(await relays.sync()).toEqual({ served: [], stopped: ["stale"], failed: [] });

    await b.restartRelay();
    const until = Date.now() + 10_000;
    while ((await client.call("List", {}).catch(() => ({ sandboxes: [] }))).sandboxes.length === 0) {
      if (Date.now() > until) throw new Error("s1 not served again after the relay restarted");
      await new Promise((r) => setTimeout(r, 20));
    }
    const c1 = await connect(path.join(b.podsDir, "s1", "agent.ttrpc"));
    expect((await c1.call(Health.method.check, {})).status).toBe(1);
  });
});

describe("Hypervisor calls", () => {
  it("are held while no control plane is attached and answered once one is, within their deadline", async () => {
    const b = await bed();
    const shim = await connect(b.hypervisorSocket);
    const held = shim.call(Hypervisor.method.version, {}, { timeoutMs: 10_000 });
    await new Promise((r) => setTimeout(r, 200));
    const client = await b.client();
    await client.attachHypervisor(controlPlane().server);
    expect(await held).toMatchObject({ version: "cp" });
  });

  it("fail DEADLINE_EXCEEDED when no control plane comes within their deadline, and UNAVAILABLE past the hold time without one", async () => {
    const b = await bed(300);
    const shim = await connect(b.hypervisorSocket);
    await expect(shim.call(Hypervisor.method.version, {}, { timeoutMs: 200 })).rejects.toMatchObject({
      code: Code.DEADLINE_EXCEEDED,
    });
    await expect(shim.call(Hypervisor.method.stopVM, { id: "x" })).rejects.toMatchObject({
      code: Code.UNAVAILABLE,
      message: expect.stringContaining("no control plane"),
    });
  });

  it("are sent again to the next control plane when the one handling them dies, and answered once", async () => {
    const b = await bed();
    const first = await b.client();
    let hang!: () => void;
    const hung = new Promise<void>((resolve) => (hang = resolve));
    const dying = controlPlane(() => hung);
    await first.attachHypervisor(dying.server);
    const shim = await connect(b.hypervisorSocket);
    const call = shim.call(Hypervisor.method.startVM, { id: "sb" }, { timeoutMs: 10_000 });
    while (dying.starts.length === 0) await new Promise((r) => setTimeout(r, 10));
    first.close(); // the connection breaks with the call under way, as a SIGKILL does
    await dying.server.close();
    hang();
    const second = await b.client();
    const next = controlPlane();
    await second.attachHypervisor(next.server);
    await expect(call).resolves.toBeDefined();
    expect(next.starts).toEqual(["sb"]);
  });

  it("after Detach, new calls wait for the next control plane while the leaving one finishes its own", async () => {
    const b = await bed();
    const first = await b.client();
    let finish!: () => void;
    const slow = controlPlane(() => new Promise<void>((resolve) => (finish = resolve)));
    await first.attachHypervisor(slow.server);
    const shim = await connect(b.hypervisorSocket);
    const underWay = shim.call(Hypervisor.method.startVM, { id: "a" }, { timeoutMs: 10_000 });
    while (slow.starts.length === 0) await new Promise((r) => setTimeout(r, 10));
    await first.detach();
    const later = shim.call(Hypervisor.method.startVM, { id: "b" }, { timeoutMs: 10_000 });
    await new Promise((r) => setTimeout(r, 200));
    finish();
    await underWay;
    expect(slow.starts).toEqual(["a"]);
    const second = await b.client();
    const next = controlPlane();
    await second.attachHypervisor(next.server);
    await later;
    expect(next.starts).toEqual(["b"]);
  });
});
