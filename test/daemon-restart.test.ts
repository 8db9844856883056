// Restarts and upgrades of the control plane lose no pod. containerd's Go ttrpc client plays the
// Kata shim: Hypervisor calls on a fresh connection each, and ONE agent connection for the pod's
// life with a WaitProcess and a ReadStdout in flight. cloud-api-adaptor is stopped the way a
// container runtime stops it (its whole process group: SIGTERM, then SIGKILL) and replaced by a
// different build; peerpod-relay, which owns the sockets, stays. Every call completes with the
// right answer, the connection keeps working, nothing is relayed twice or lost, and StopVM then
// leaves nothing behind.
import fs from "node:fs/promises";
import path from "node:path";
import { create, type DescMessage, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import {
  CloseStdinRequestSchema,
  CreateContainerRequestSchema,
  ReadStreamRequestSchema,
  ReadStreamResponseSchema,
  RemoveContainerRequestSchema,
  StartContainerRequestSchema,
  WaitProcessRequestSchema,
  WaitProcessResponseSchema,
  WriteStreamRequestSchema,
  WriteStreamResponseSchema,
} from "../src/gen/agent_pb.js";
import { CheckRequestSchema } from "../src/gen/health_pb.js";
import {
  CreateVMRequestSchema,
  CreateVMResponseSchema,
  StartVMRequestSchema,
  StopVMRequestSchema,
  VersionRequestSchema,
} from "../src/gen/hypervisor_pb.js";
import { useDaemonHooks } from "./support/daemon-hooks.ts";
import {
  type DaemonDirs,
  debugSandboxes,
  makeDaemonDirs,
  type RunningDaemon,
  startDaemon,
} from "./support/daemon-process.ts";
import { buildGoPeer, type GoCallResult, type GoClient, startGoClient } from "./support/go-peer.ts";
import { makeOtherBuild } from "./support/other-build.ts";

const HV = "hypervisor.Hypervisor";
const AGENT = "grpc.AgentService";
const OK = 0;
const DEADLINE_EXCEEDED = 4;

let dirs: DaemonDirs | undefined;
let daemon: RunningDaemon | undefined;
const clients: GoClient[] = [];

useDaemonHooks({
  dirs: () => dirs,
  daemon: () => daemon,
  afterEachTest: async () => {
    for (const c of clients.splice(0)) await c.close().catch(() => {});
  },
});

const encode = <D extends DescMessage>(schema: D, init: MessageInitShape<D>) => toBinary(schema, create(schema, init));

async function goClient(socket: string): Promise<GoClient> {
  const c = await startGoClient(socket);
  clients.push(c);
  return c;
}

/** A Hypervisor call the way the shim makes it: its own connection, one call, closed. */
async function hypervisorCall(method: string, payload: Uint8Array, timeoutMs = 0): Promise<GoCallResult> {
  const c = await startGoClient(dirs!.socketPath);
  try {
    return await c.call({ service: HV, method, payload, timeoutMs });
  } finally {
    await c.close();
  }
}

const createVm = (id: string, timeoutMs = 0) =>
  hypervisorCall(
    "CreateVM",
    encode(CreateVMRequestSchema, { id, annotations: {}, networkNamespacePath: "" }),
    timeoutMs,
  );
const startVm = (id: string) => hypervisorCall("StartVM", encode(StartVMRequestSchema, { id }), 120_000);
const stopVm = (id: string, timeoutMs = 0) => hypervisorCall("StopVM", encode(StopVMRequestSchema, { id }), timeoutMs);

/** The relay's pid as the daemon last logged it on connecting. */
function relayPidOf(d: RunningDaemon): number {
  const all = [...d.logs().matchAll(/"relayPid":(\d+)/g)];
  if (all.length === 0) throw new Error(`the daemon never connected to a relay:\n${d.logs()}`);
  return Number(all.at(-1)![1]);
}

async function nothingLeft(id: string, agentSocketPath: string, probePort: number): Promise<void> {
  expect(await debugSandboxes(probePort)).toEqual([]);
  expect(await fs.readdir(dirs!.vmsDir).catch(() => [])).toEqual([]);
  expect(await fs.readdir(path.join(dirs!.stateDir, "sandboxes"))).toEqual([]);
  for (let i = 0; i < 100 && (await fs.stat(agentSocketPath).catch(() => undefined)) !== undefined; i++)
    await new Promise((r) => setTimeout(r, 50)); // the socket lingers SOCKET_LINGER
  await expect(fs.stat(agentSocketPath), `${id}'s agent socket`).rejects.toMatchObject({ code: "ENOENT" });
}

describe("control plane restarted under a running pod (Go ttrpc client as the shim)", () => {
  it("SIGTERM, SIGKILL and a different build: WaitProcess and ReadStdout in flight complete, the connection keeps working, StopVM leaves nothing", async () => {
    await buildGoPeer();
    dirs = await makeDaemonDirs("caa-restart-");
    const otherBuild = await makeOtherBuild(path.join(dirs.root, "build-b"), "build-b");
    daemon = await startDaemon(dirs, {}, [], undefined, { processGroup: true });
    const relayPid = relayPidOf(daemon);

    const created = await createVm("sb");
    expect(created).toMatchObject({ code: OK });
    const { agentSocketPath } = fromBinary(CreateVMResponseSchema, created.payload);
    expect(await startVm("sb")).toMatchObject({ code: OK });

    const shim = await goClient(agentSocketPath);
    const agentCall = async <D extends DescMessage>(method: string, schema: D, init: MessageInitShape<D>) => {
      const r = await shim.call({ service: AGENT, method, payload: encode(schema, init), timeoutMs: 0 });
      if (method !== "ReadStdout" && r.code !== OK) throw new Error(`${method}: code ${r.code}: ${r.message}`);
      return r;
    };
    const ids = { containerId: "c1", execId: "c1" };
    // Echoes each line it reads, then exits 7 once stdin closes.
    await agentCall("CreateContainer", CreateContainerRequestSchema, {
      ...ids,
      OCI: {
        Process: {
          Args: ["sh", "-c", 'while read l; do echo "got $l"; done; exit 7'],
          Cwd: "/",
          Env: ["PATH=/usr/bin:/bin"],
        },
      },
    });
    await agentCall("StartContainer", StartContainerRequestSchema, { containerId: "c1" });
    let waitAnswered = false;
    const waiting = agentCall("WaitProcess", WaitProcessRequestSchema, ids).then((r) => {
      waitAnswered = true;
      return r;
    });
    const read = () => agentCall("ReadStdout", ReadStreamRequestSchema, { ...ids, len: 4096 });
    // A ReadStdout is always in flight, as the shim's copy loop keeps one.
    let reading = read();
    let seen = "";
    const nextLine = async (): Promise<string> => {
      let text = "";
      while (!text.endsWith("\n")) {
        const r = await reading;
        expect(r.code, r.message).toBe(OK);
        reading = read();
        text += Buffer.from(fromBinary(ReadStreamResponseSchema, r.payload).data).toString();
      }
      seen += text;
      return text;
    };
    const say = async (line: string): Promise<string> => {
      const data = Buffer.from(`${line}\n`);
      const w = await agentCall("WriteStdin", WriteStreamRequestSchema, { ...ids, data });
      expect(fromBinary(WriteStreamResponseSchema, w.payload).len).toBe(data.length);
      return nextLine();
    };

    expect(await say("before")).toBe("got before\n");
    const replacements = [
      { name: "SIGTERM", signal: "SIGTERM" as const, entry: undefined },
      { name: "SIGKILL", signal: "SIGKILL" as const, entry: undefined },
      { name: "other-build", signal: "SIGTERM" as const, entry: otherBuild },
    ];
    for (const r of replacements) {
      // Stopped with the WaitProcess and a ReadStdout in flight on the shim's connection.
      await daemon.killGroup(r.signal);
      expect(waitAnswered).toBe(false);
      // The data plane does not need the control plane: the in-flight read answers meanwhile.
      expect(await say(`${r.name}-down`)).toBe(`got ${r.name}-down\n`);
      daemon = await startDaemon(dirs, {}, [], undefined, {
        processGroup: true,
        ...(r.entry ? { entry: r.entry } : {}),
      });
      expect(relayPidOf(daemon)).toBe(relayPid);
      expect(await debugSandboxes(daemon.probePort)).toEqual([expect.objectContaining({ id: "sb", state: "running" })]);
      expect(await say(`${r.name}-up`)).toBe(`got ${r.name}-up\n`);
    }
    // The different build is the one serving now.
    const relayLog = await fs.readFile(path.join(dirs.stateDir, "peerpod-relay.log"), "utf8");
    expect(relayLog).toMatch(/"controlPlane":"cloud-api-adaptor build-b [^"]*".*"msg":"control plane said hello"/);

    await agentCall("CloseStdin", CloseStdinRequestSchema, ids);
    const waited = await waiting;
    expect(fromBinary(WaitProcessResponseSchema, waited.payload).status).toBe(7);
    expect((await reading).code).not.toBe(OK); // end of stream
    // Every line once, in order: nothing relayed twice or lost.
    expect(seen).toBe(
      ["before", ...replacements.flatMap((r) => [`${r.name}-down`, `${r.name}-up`])].map((l) => `got ${l}\n`).join(""),
    );
    await agentCall("RemoveContainer", RemoveContainerRequestSchema, { containerId: "c1" });
    await shim.close();

    expect(await stopVm("sb")).toMatchObject({ code: OK });
    await nothingLeft("sb", agentSocketPath, daemon.probePort);
  }, 300_000);

  it("peerpod-relay killed: it costs the shim's open connection; the control plane starts a relay, serves the socket again, new connections and StopVM work", async () => {
    await buildGoPeer();
    dirs = await makeDaemonDirs("caa-restart-");
    daemon = await startDaemon(dirs, {}, [], undefined, { processGroup: true });
    const oldRelay = relayPidOf(daemon);
    const created = await createVm("sb");
    const { agentSocketPath } = fromBinary(CreateVMResponseSchema, created.payload);
    expect(await startVm("sb")).toMatchObject({ code: OK });
    const check = (c: GoClient) =>
      c.call({ service: "grpc.Health", method: "Check", payload: encode(CheckRequestSchema, {}), timeoutMs: 30_000 });
    const shim = await goClient(agentSocketPath);
    expect(await check(shim)).toMatchObject({ code: OK });
    const ids = { containerId: "c1", execId: "c1" };
    const agentCall = <D extends DescMessage>(c: GoClient, method: string, schema: D, init: MessageInitShape<D>) =>
      c.call({ service: AGENT, method, payload: encode(schema, init) });
    const container = {
      ...ids,
      OCI: { Process: { Args: ["sh", "-c", "read l; exit 5"], Cwd: "/", Env: ["PATH=/usr/bin:/bin"] } },
    };
    expect(await agentCall(shim, "CreateContainer", CreateContainerRequestSchema, container)).toMatchObject({
      code: OK,
    });
    expect(await agentCall(shim, "StartContainer", StartContainerRequestSchema, { containerId: "c1" })).toMatchObject({
      code: OK,
    });
    const waiting = agentCall(shim, "WaitProcess", WaitProcessRequestSchema, ids);

    process.kill(oldRelay, "SIGKILL");
    // The cost: the call in flight fails and the connection is gone for good (the shim never redials).
    expect((await waiting).code).not.toBe(OK);
    expect((await check(shim)).code).not.toBe(OK);

    // The control plane notices, starts a relay and serves the pod's socket again.
    for (let i = 0; i < 600 && relayPidOf(daemon) === oldRelay; i++) await new Promise((r) => setTimeout(r, 50));
    expect(relayPidOf(daemon)).not.toBe(oldRelay);
    let again: GoCallResult | undefined;
    for (let i = 0; i < 200 && again?.code !== OK; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 50));
      const fresh = await goClient(agentSocketPath).catch(() => undefined);
      again = fresh && (await check(fresh));
    }
    expect(again).toMatchObject({ code: OK });
    // The VM and its container lived on: a new connection reaches the same process.
    const fresh = await goClient(agentSocketPath);
    const waitedAgain = agentCall(fresh, "WaitProcess", WaitProcessRequestSchema, ids);
    expect(await agentCall(fresh, "CloseStdin", CloseStdinRequestSchema, ids)).toMatchObject({ code: OK });
    expect(fromBinary(WaitProcessResponseSchema, (await waitedAgain).payload).status).toBe(5);
    for (const c of clients.splice(0)) await c.close();

    expect(await stopVm("sb")).toMatchObject({ code: OK });
    await nothingLeft("sb", agentSocketPath, daemon.probePort);
  }, 300_000);

  it("Hypervisor calls made while it is down are answered once it is back; past their deadline they fail DEADLINE_EXCEEDED", async () => {
    await buildGoPeer();
    dirs = await makeDaemonDirs("caa-restart-");
    daemon = await startDaemon(dirs, {}, [], undefined, { processGroup: true });
    const first = fromBinary(CreateVMResponseSchema, (await createVm("sb1")).payload);
    expect(await startVm("sb1")).toMatchObject({ code: OK });
    await daemon.killGroup("SIGKILL");

    const stopping = stopVm("sb1");
    const creating = createVm("sb2", 120_000);
    const late = hypervisorCall("Version", encode(VersionRequestSchema, { version: "0.0.1" }), 300);
    expect(await late).toMatchObject({ code: DEADLINE_EXCEEDED });
    daemon = await startDaemon(dirs, {}, [], undefined, { processGroup: true });
    expect(await stopping).toMatchObject({ code: OK });
    const second = await creating;
    expect(second).toMatchObject({ code: OK });
    expect(await startVm("sb2")).toMatchObject({ code: OK });
    expect(await debugSandboxes(daemon.probePort)).toEqual([expect.objectContaining({ id: "sb2", state: "running" })]);
    expect(await stopVm("sb2")).toMatchObject({ code: OK });
    await nothingLeft("sb1", first.agentSocketPath, daemon.probePort);
    await nothingLeft("sb2", fromBinary(CreateVMResponseSchema, second.payload).agentSocketPath, daemon.probePort);
  }, 300_000);
});
