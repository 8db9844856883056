// A warm-pool VM's forwarder against the daemon's claim client, over real mutual TLS: it serves
// nothing until claimed, takes exactly one claim, writes the claim's files, then serves the
// sandbox under the sandbox's certificate.
import fs from "node:fs/promises";
import path from "node:path";
import pino from "pino";
import { beforeAll, describe, expect, it } from "vitest";
import { startRelayTestAgent } from "../../test/support/relay-test-agent.ts";
import { TestCa, type TestTlsMaterial } from "../../test/support/test-certs.ts";
import { freePort, useTestScope } from "../../test/support/test-scope.ts";
import { peerVmServerName, poolVmServerName } from "../pki/server-name.ts";
import { sendClaimRequest } from "../pool/index.ts";
import { waitForForwarder } from "../proxy/index.ts";
import {
  type CloudConfigFile,
  FORWARDER_CONFIG_PATH,
  INITDATA_PATH,
  type PoolForwarderConfig,
  sandboxFiles,
} from "../userdata/index.ts";
import { runForwarder } from "./run-forwarder.ts";

const scope = useTestScope("claim");
let ca: TestCa;
let client: { caPem: string; certPem: string; keyPem: string };
beforeAll(async () => {
  ca = await TestCa.create();
  const c = await ca.issueClient("daemon");
  client = { caPem: c.ca, certPem: c.cert, keyPem: c.key };
});

const pem = (m: TestTlsMaterial) => ({ caCert: m.ca, cert: m.cert, key: m.key });

interface PoolVm {
  readonly port: number;
  readonly root: string;
  readonly agentsStarted: () => number;
  target(): { host: string; port: number; poolVm: string };
}

/** agentLateMs: the agent comes up this long after the claim started it (a slow VM). */
async function poolVm(name = "podvm-pool-a", agentLateMs = 0): Promise<PoolVm> {
  const root = await scope.tempDir();
  const port = await freePort();
  const identity = await ca.issueServer({ commonName: name, dnsNames: [poolVmServerName(name)] });
  const config: PoolForwarderConfig = { version: 1, poolVm: name, listenPort: port, tls: pem(identity) };
  let agents = 0;
  const running = await runForwarder(config, {
    listenHost: "127.0.0.1",
    agentSocketPath: path.join(root, "agent.sock"),
    podNetnsName: "unused",
    startAgent: async (socketPath) => {
      agents++;
      if (agentLateMs === 0) return startRelayTestAgent(socketPath);
      const late = new Promise<{ close(): Promise<void> }>((resolve) =>
        setTimeout(() => resolve(startRelayTestAgent(socketPath)), agentLateMs),
      );
      return { close: async () => (await late).close() };
    },
    writeFile: async (f: CloudConfigFile) => {
      const target = path.join(root, "fs", f.path);
      await fs.mkdir(path.dirname(target), { recursive: true });
      await fs.writeFile(target, f.content, { mode: parseInt(f.permissions, 8) });
    },
    logger: pino({ level: "silent" }),
  });
  scope.defer(() => running.close());
  return { port, root, agentsStarted: () => agents, target: () => ({ host: "127.0.0.1", port, poolVm: name }) };
}

async function claimFiles(
  sandboxId: string,
  port: number,
  initdata = 'algorithm = "sha384"\n',
): Promise<CloudConfigFile[]> {
  const cert = await ca.issueServer({ commonName: sandboxId, dnsNames: [peerVmServerName(sandboxId)] });
  return sandboxFiles({ version: 1, sandboxId, listenPort: port, tls: pem(cert), podNetwork: undefined }, initdata);
}

/** Health.Check through the forwarder as the agent proxy dials it: with the sandbox's name.
 * once: a single attempt (the next would come after the deadline). */
function agentAnswers(port: number, sandboxId: string, ms = 3000, once = false): Promise<void> {
  return waitForForwarder({
    host: "127.0.0.1",
    port,
    tls: { ca: client.caPem, cert: client.certPem, key: client.keyPem, servername: peerVmServerName(sandboxId) },
    signal: AbortSignal.timeout(ms),
    retryIntervalMs: once ? 60_000 : 50,
  });
}

const signal = () => AbortSignal.timeout(10_000);

describe("a pool VM's forwarder", () => {
  it("serves no agent connection before its claim, answers status with waiting", async () => {
    const vm = await poolVm();
    expect(await sendClaimRequest(vm.target(), { op: "status" }, client, signal())).toEqual({
      ok: true,
      state: "waiting",
    });
    await expect(agentAnswers(vm.port, "sb1", 500)).rejects.toThrow();
    // Even a client that names the pool VM itself gets no agent: only claims are answered.
    const asPool = waitForForwarder({
      host: "127.0.0.1",
      port: vm.port,
      tls: { ca: client.caPem, cert: client.certPem, key: client.keyPem, servername: poolVmServerName("podvm-pool-a") },
      signal: AbortSignal.timeout(500),
      retryIntervalMs: 50,
    });
    await expect(asPool).rejects.toThrow(/not reachable/);
    expect(vm.agentsStarted()).toBe(0);
  });

  it("takes a claim: writes its files, starts the sandbox, then serves it under the sandbox's certificate", async () => {
    const vm = await poolVm();
    const files = await claimFiles("sb1", vm.port);
    const reply = await sendClaimRequest(
      vm.target(),
      { op: "claim", poolVm: "podvm-pool-a", sandboxId: "sb1", files },
      client,
      signal(),
    );
    // The reply comes once the agent answers: the first agent connection after it gets through.
    expect(reply).toEqual({ ok: true, state: "claimed", sandboxId: "sb1", agentReady: true });
    await agentAnswers(vm.port, "sb1", 5000, true);
    expect(vm.agentsStarted()).toBe(1);
    const initdata = path.join(vm.root, "fs", INITDATA_PATH);
    expect(await fs.readFile(initdata, "utf8")).toBe('algorithm = "sha384"\n');
    expect((await fs.stat(initdata)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await fs.readFile(path.join(vm.root, "fs", FORWARDER_CONFIG_PATH), "utf8"))).toMatchObject({
      sandboxId: "sb1",
    });
    // Another sandbox's name does not get through: the certificate names sb1 only.
    await expect(agentAnswers(vm.port, "sb2", 500)).rejects.toThrow(/TLS|not reachable/);
    expect(await sendClaimRequest(vm.target(), { op: "status" }, client, signal())).toEqual({
      ok: true,
      state: "claimed",
      sandboxId: "sb1",
    });
  });

  it("a claim whose agent is not up within 5 s is taken without vouching for the agent; it is served once up", async () => {
    const vm = await poolVm("podvm-pool-a", 6000);
    const reply = await sendClaimRequest(
      vm.target(),
      { op: "claim", poolVm: "podvm-pool-a", sandboxId: "sb1", files: await claimFiles("sb1", vm.port) },
      client,
      signal(),
    );
    expect(reply).toEqual({ ok: true, state: "claimed", sandboxId: "sb1" });
    await agentAnswers(vm.port, "sb1", 10_000);
  });

  it("refuses a second claim, for another sandbox or the same one", async () => {
    const vm = await poolVm();
    const first = await sendClaimRequest(
      vm.target(),
      { op: "claim", poolVm: "podvm-pool-a", sandboxId: "sb1", files: await claimFiles("sb1", vm.port) },
      client,
      signal(),
    );
    expect(first.ok).toBe(true);
    for (const id of ["sb2", "sb1"]) {
      const again = await sendClaimRequest(
        vm.target(),
        { op: "claim", poolVm: "podvm-pool-a", sandboxId: id, files: await claimFiles(id, vm.port) },
        client,
        signal(),
      );
      expect(again).toEqual({ ok: false, error: expect.stringContaining("already claimed by sandbox sb1") });
    }
    expect(vm.agentsStarted()).toBe(1);
  });

  it("of two claims racing, exactly one wins", async () => {
    const vm = await poolVm();
    const [a, b] = await Promise.all(
      ["sa", "sb"].map(async (id) =>
        sendClaimRequest(
          vm.target(),
          { op: "claim", poolVm: "podvm-pool-a", sandboxId: id, files: await claimFiles(id, vm.port) },
          client,
          signal(),
        ),
      ),
    );
    expect([a!.ok, b!.ok].sort()).toEqual([false, true]);
    expect(vm.agentsStarted()).toBe(1);
  });

  it("refuses a claim naming another pool VM and stays claimable", async () => {
    const vm = await poolVm();
    const wrong = await sendClaimRequest(
      vm.target(),
      { op: "claim", poolVm: "podvm-pool-b", sandboxId: "sb1", files: await claimFiles("sb1", vm.port) },
      client,
      signal(),
    );
    expect(wrong).toEqual({ ok: false, error: "this is pool VM podvm-pool-a, not podvm-pool-b" });
    expect(await sendClaimRequest(vm.target(), { op: "status" }, client, signal())).toEqual({
      ok: true,
      state: "waiting",
    });
  });

  it("a claim that fails half-way leaves the VM spent: it serves nothing and refuses every later claim", async () => {
    const vm = await poolVm();
    const mismatched = await claimFiles("other", vm.port);
    const bad = await sendClaimRequest(
      vm.target(),
      { op: "claim", poolVm: "podvm-pool-a", sandboxId: "sb1", files: mismatched },
      client,
      signal(),
    );
    expect(bad).toEqual({
      ok: false,
      error: "claim failed: claim for sandbox sb1 carries the configuration of sandbox other",
    });
    expect(await sendClaimRequest(vm.target(), { op: "status" }, client, signal())).toMatchObject({
      ok: true,
      state: "spent",
    });
    const later = await sendClaimRequest(
      vm.target(),
      { op: "claim", poolVm: "podvm-pool-a", sandboxId: "sb1", files: await claimFiles("sb1", vm.port) },
      client,
      signal(),
    );
    expect(later.ok).toBe(false);
    expect(vm.agentsStarted()).toBe(0);
  });

  it("answers no claim from a client without a certificate of the daemon's CA", async () => {
    const vm = await poolVm();
    const stranger = await (await TestCa.create("another CA")).issueClient("intruder");
    const outcome = sendClaimRequest(
      vm.target(),
      { op: "claim", poolVm: "podvm-pool-a", sandboxId: "sb1", files: await claimFiles("sb1", vm.port) },
      { caPem: client.caPem, certPem: stranger.cert, keyPem: stranger.key },
      signal(),
    );
    await expect(outcome).rejects.toThrow();
    expect(await sendClaimRequest(vm.target(), { op: "status" }, client, signal())).toEqual({
      ok: true,
      state: "waiting",
    });
  });
});
