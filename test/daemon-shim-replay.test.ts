// The daemon driven exactly as Kata shim 3.5.0 drives it, by containerd's Go ttrpc client, with
// the request payloads the real shim sent: Hypervisor calls on fresh connections, then every
// agent call on ONE long-lived connection through proxy → mutual TLS → forwarder → agent.
import fs from "node:fs/promises";
import { fromBinary } from "@bufbuild/protobuf";
import { beforeAll, describe, expect, it } from "vitest";
import { ReadStreamResponseSchema, WaitProcessResponseSchema } from "../src/gen/agent_pb.js";
import { CreateVMResponseSchema } from "../src/gen/hypervisor_pb.js";
import { useDaemonHooks } from "./support/daemon-hooks.ts";
import {
  type DaemonDirs,
  debugSandboxes,
  makeDaemonDirs,
  type RunningDaemon,
  startDaemon,
} from "./support/daemon-process.ts";
import { buildGoPeer, type GoCallResult, startGoClient } from "./support/go-peer.ts";

const DIR = new URL("../../shared/reference/kata-shim-3.5.0-requests/", import.meta.url);
const HV = "hypervisor.Hypervisor";
const AGENT = "grpc.AgentService";

async function payload(name: string): Promise<Uint8Array> {
  const files = await fs.readdir(DIR);
  const file = files.find((f) => f.startsWith(name));
  if (file === undefined) throw new Error(`no payload ${name}`);
  return new Uint8Array(await fs.readFile(new URL(file, DIR)));
}

/** A Hypervisor call the way the shim makes it: its own connection, one call, closed. */
async function hypervisorCall(socket: string, method: string, file: string, timeoutMs?: number): Promise<GoCallResult> {
  const client = await startGoClient(socket);
  try {
    return await client.call({
      service: HV,
      method,
      payload: await payload(file),
      ...(timeoutMs ? { timeoutMs } : {}),
    });
  } finally {
    await client.close();
  }
}

let dirs: DaemonDirs;
let daemon: RunningDaemon;

beforeAll(async () => {
  await buildGoPeer();
  dirs = await makeDaemonDirs();
  daemon = await startDaemon(dirs);
});

useDaemonHooks({ dirs: () => dirs, daemon: () => daemon, daemonPer: "file", dirsPer: "file" });

describe("daemon driven like Kata shim 3.5.0", () => {
  it("runs CreateVM … StopVM with the captured payloads and leaves nothing behind", async () => {
    const created = await hypervisorCall(dirs.socketPath, "CreateVM", "001_");
    expect(created.code).toBe(0);
    const { agentSocketPath } = fromBinary(CreateVMResponseSchema, created.payload);
    expect(agentSocketPath).toBe(`${dirs.podsDir}/c3/agent.ttrpc`);
    expect(await hypervisorCall(dirs.socketPath, "StartVM", "002_", 600_000)).toMatchObject({ code: 0 });
    expect((await fs.stat(agentSocketPath)).mode & 0o777).toBe(0o600);

    const agent = await startGoClient(agentSocketPath);
    const call = async (service: string, method: string, file: string, timeoutMs?: number) =>
      agent.call({ service, method, payload: await payload(file), ...(timeoutMs ? { timeoutMs } : {}) });
    expect(await call(AGENT, "CreateSandbox", "003_", 300_000)).toMatchObject({ code: 0 });
    expect(await call(AGENT, "GetGuestDetails", "004_")).toMatchObject({ code: 0 });
    expect(await call(AGENT, "CreateContainer", "005_", 60_000)).toMatchObject({ code: 0 });
    expect(await call(AGENT, "StartContainer", "006_")).toMatchObject({ code: 0 });
    // Long polls held open on the same connection, as the shim does.
    const oom = call(AGENT, "GetOOMEvent", "007_");
    const stderr = call(AGENT, "ReadStderr", "008_");
    const stdout = call(AGENT, "ReadStdout", "009_");
    const wait = call(AGENT, "WaitProcess", "011_");
    expect(await call("grpc.Health", "Check", "012_", 30_000)).toMatchObject({ code: 0 });
    // exec `ls /`: its output arrives while the long polls above stay open.
    expect(await call(AGENT, "ExecProcess", "013_")).toMatchObject({ code: 0 });
    const execErr = call(AGENT, "ReadStderr", "014_");
    let out = "";
    for (;;) {
      const r = await call(AGENT, "ReadStdout", "015_");
      if (r.code !== 0) break;
      out += Buffer.from(fromBinary(ReadStreamResponseSchema, r.payload).data).toString();
    }
    expect(out.split("\n")).toContain("usr");
    expect((await execErr).code).not.toBe(0);
    const execWait = await call(AGENT, "WaitProcess", "017_");
    expect(fromBinary(WaitProcessResponseSchema, execWait.payload).status).toBe(0);
    // kill the container: SIGTERM, SIGKILL, wait
    expect(await call(AGENT, "SignalProcess", "018_")).toMatchObject({ code: 0 });
    expect(await call(AGENT, "SignalProcess", "019_")).toMatchObject({ code: 0 });
    const waited = await call(AGENT, "WaitProcess", "020_");
    expect(fromBinary(WaitProcessResponseSchema, waited.payload).status).toBe(143);
    expect(fromBinary(WaitProcessResponseSchema, (await wait).payload).status).toBe(143);
    expect((await stdout).code).not.toBe(0); // end of stream
    expect((await stderr).code).not.toBe(0);
    expect(await call(AGENT, "RemoveContainer", "021_")).toMatchObject({ code: 0 });
    expect(await call(AGENT, "RemoveStaleVirtiofsShareMounts", "022_")).toMatchObject({ code: 0 });
    expect(await call(AGENT, "DestroySandbox", "023_")).toMatchObject({ code: 0 });
    expect((await oom).code).not.toBe(0);
    await agent.close();

    expect(await hypervisorCall(dirs.socketPath, "StopVM", "024_")).toMatchObject({ code: 0 });
    expect(await debugSandboxes(daemon.probePort)).toEqual([]);
    expect(await fs.readdir(dirs.vmsDir)).toEqual([]);
    expect(await fs.readdir(`${dirs.stateDir}/sandboxes`)).toEqual([]);
    await new Promise((r) => setTimeout(r, 400)); // the socket lingers SOCKET_LINGER
    await expect(fs.stat(agentSocketPath)).rejects.toMatchObject({ code: "ENOENT" });
  });
});
