// The agent's protocol semantics through a real ttrpc client over a Unix socket.

import fs from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  groupMembers,
  held,
  isRunning,
  rejection,
  startTestAgent,
  stateAfter,
  type TestAgent,
  until,
} from "../../test/support/agent-harness.ts";
import { AgentService } from "../gen/agent_pb.js";
import { Health } from "../gen/health_pb.js";
import { type Client, Code } from "../ttrpc/index.ts";
import { DEFAULT_AGENT_INFO } from "./agent-info.ts";
import { END_OF_STREAM_CODE } from "./output-stream.ts";

const A = AgentService.method;
const ENV = ["PATH=/usr/local/bin:/usr/bin:/bin", "GREETING=hi"];

let t: TestAgent;
let client: Client;

beforeEach(async () => {
  t = await startTestAgent();
  client = t.client;
  await client.call(A.createSandbox, { sandboxId: "sb1", hostname: "pod1" });
});

afterEach(async () => {
  await t.close();
});

async function createContainer(
  id: string,
  args: string[],
  extra: { cwd?: string; terminal?: boolean } = {},
): Promise<void> {
  await client.call(A.createContainer, {
    containerId: id,
    execId: id,
    OCI: { Process: { Args: args, Env: ENV, Cwd: extra.cwd ?? "/", Terminal: extra.terminal ?? false } },
  });
}

async function runContainer(id: string, args: string[]): Promise<number> {
  await createContainer(id, args);
  await client.call(A.startContainer, { containerId: id });
  return t.agent.sandbox.process(id, id).pid as number;
}

async function exec(containerId: string, execId: string, args: string[]): Promise<void> {
  await client.call(A.execProcess, { containerId, execId, process: { Args: args, Env: ENV, Cwd: "/" } });
}

/** Reads a stream until the agent ends it; returns the text and the ending status code. */
async function readToEnd(
  stream: "stdout" | "stderr",
  containerId: string,
  execId: string,
  len = 32768,
): Promise<{ text: string; code: number }> {
  const method = stream === "stdout" ? A.readStdout : A.readStderr;
  let text = "";
  for (;;) {
    try {
      const reply = await client.call(method, { containerId, execId, len });
      text += Buffer.from(reply.data).toString();
    } catch (err) {
      return { text, code: (err as { code: number }).code };
    }
  }
}

describe("container processes", () => {
  it("runs the spec's command; output is read to the end, then reads fail; WaitProcess gives the exit code", async () => {
    await createContainer("c1", ["sh", "-c", "echo hello; echo err >&2; echo $GREETING; exit 3"]);
    // Reads may come before the start (the process exists from CreateContainer on) and wait for it.
    const firstOut = held(client.call(A.readStdout, { containerId: "c1", execId: "c1", len: 32768 }));
    expect(await stateAfter(firstOut, 50)).toBe("pending");
    await client.call(A.startContainer, { containerId: "c1" });
    const out = await readToEnd("stdout", "c1", "c1");
    const err = await readToEnd("stderr", "c1", "c1");
    expect(Buffer.from((await firstOut).data).toString() + out.text).toBe("hello\nhi\n");
    expect(err.text).toBe("err\n");
    expect(out.code).toBe(END_OF_STREAM_CODE);
    expect(err.code).toBe(END_OF_STREAM_CODE);
    // Not an empty OK: every further read fails as well.
    expect((await rejection(client.call(A.readStdout, { containerId: "c1", execId: "c1", len: 10 }))).code).toBe(
      END_OF_STREAM_CODE,
    );
    expect((await client.call(A.waitProcess, { containerId: "c1", execId: "c1" })).status).toBe(3);
    // The init process is also known by an empty exec id.
    expect((await client.call(A.waitProcess, { containerId: "c1", execId: "" })).status).toBe(3);
  });

  it("returns at most len bytes per read", async () => {
    await runContainer("c1", ["sh", "-c", "printf abcdefghij"]);
    await until(() => t.agent.sandbox.process("c1", "c1").stdout.isEnded, 5000, "output complete");
    const parts: string[] = [];
    for (;;) {
      try {
        parts.push(
          Buffer.from((await client.call(A.readStdout, { containerId: "c1", execId: "c1", len: 4 })).data).toString(),
        );
      } catch {
        break;
      }
    }
    expect(parts).toEqual(["abcd", "efgh", "ij"]);
  });

  it("refuses a terminal", async () => {
    const err = await rejection(createContainer("c1", ["sh"], { terminal: true }));
    expect(err.code).toBe(Code.INVALID_ARGUMENT);
    expect(err.statusMessage).toMatch(/terminal/);
    expect(t.agent.sandbox.containerIds()).toEqual([]);
  });

  it("fails StartContainer clearly when the working directory does not exist", async () => {
    await createContainer("c1", ["pwd"], { cwd: "/no/such/dir" });
    const err = await rejection(client.call(A.startContainer, { containerId: "c1" }));
    expect(err.code).toBe(Code.FAILED_PRECONDITION);
    expect(err.statusMessage).toContain("/no/such/dir does not exist");
    // Nobody waits forever on a process that never ran.
    expect((await rejection(client.call(A.readStdout, { containerId: "c1", execId: "c1", len: 10 }))).code).toBe(
      END_OF_STREAM_CODE,
    );
  });

  it("runs in the spec's working directory", async () => {
    await fs.mkdir(path.join(t.dir, "work"));
    await createContainer("c1", ["pwd"], { cwd: path.join(t.dir, "work") });
    await client.call(A.startContainer, { containerId: "c1" });
    expect((await readToEnd("stdout", "c1", "c1")).text).toBe(`${path.join(t.dir, "work")}\n`);
  });

  it("fails StartContainer when the executable does not exist", async () => {
    await createContainer("c1", ["/no/such/program"]);
    const err = await rejection(client.call(A.startContainer, { containerId: "c1" }));
    expect(err.code).toBe(Code.FAILED_PRECONDITION);
    expect(err.statusMessage).toContain("/no/such/program");
  });

  it("exec feeds stdin through WriteStdin and CloseStdin", async () => {
    await runContainer("c1", ["sleep", "1000"]);
    await exec("c1", "e1", ["cat"]);
    expect((await client.call(A.writeStdin, { containerId: "c1", execId: "e1", data: Buffer.from("abc") })).len).toBe(
      3,
    );
    expect((await client.call(A.writeStdin, { containerId: "c1", execId: "e1", data: Buffer.from("def\n") })).len).toBe(
      4,
    );
    await client.call(A.closeStdin, { containerId: "c1", execId: "e1" });
    expect(await readToEnd("stdout", "c1", "e1")).toEqual({ text: "abcdef\n", code: END_OF_STREAM_CODE });
    expect((await readToEnd("stderr", "c1", "e1")).code).toBe(END_OF_STREAM_CODE);
    expect((await client.call(A.waitProcess, { containerId: "c1", execId: "e1" })).status).toBe(0);
    // Waited for and drained: the exec is forgotten, the container runs on.
    expect((await rejection(client.call(A.waitProcess, { containerId: "c1", execId: "e1" }))).code).toBe(
      Code.NOT_FOUND,
    );
    expect(t.agent.sandbox.process("c1", "c1").state).toBe("running");
  });

  it("refuses a second process with the same exec id", async () => {
    await runContainer("c1", ["sleep", "1000"]);
    await exec("c1", "e1", ["sleep", "1000"]);
    expect((await rejection(exec("c1", "e1", ["true"]))).code).toBe(Code.ALREADY_EXISTS);
    expect((await rejection(exec("c1", "c1", ["true"]))).code).toBe(Code.ALREADY_EXISTS);
  });

  it("reports 128 + signal for a killed process, and SIGKILL after the exit is still OK", async () => {
    const pid = await runContainer("c1", ["sleep", "1000"]);
    await client.call(A.signalProcess, { containerId: "c1", execId: "c1", signal: 9 });
    expect((await client.call(A.waitProcess, { containerId: "c1", execId: "c1" })).status).toBe(137);
    expect(isRunning(pid)).toBe(false);
    await client.call(A.signalProcess, { containerId: "c1", execId: "", signal: 9 });
  });

  it("signals the whole process group: children of the process die with it", async () => {
    const pid = await runContainer("c1", ["sh", "-c", "sleep 1000 & sleep 1000 & wait"]);
    await until(() => groupMembers(pid).length === 3, 5000, "both sleeps started");
    const members = groupMembers(pid);
    await client.call(A.signalProcess, { containerId: "c1", execId: "", signal: 15 });
    expect((await client.call(A.waitProcess, { containerId: "c1", execId: "c1" })).status).toBe(143);
    await until(() => members.every((p) => !isRunning(p)), 5000, "group gone");
  });

  it("ends every exec'd process when the init process exits, as a pid namespace would", async () => {
    await runContainer("c1", ["sleep", "1000"]);
    await exec("c1", "e1", ["sleep", "1000"]);
    const execPid = t.agent.sandbox.process("c1", "e1").pid as number;
    await client.call(A.signalProcess, { containerId: "c1", execId: "", signal: 9 });
    expect((await client.call(A.waitProcess, { containerId: "c1", execId: "e1" })).status).toBe(137);
    expect(isRunning(execPid)).toBe(false);
  });

  it("ends a created but never started container by a signal", async () => {
    await createContainer("c1", ["sleep", "1000"]);
    const wait = held(client.call(A.waitProcess, { containerId: "c1", execId: "c1" }));
    await client.call(A.signalProcess, { containerId: "c1", execId: "", signal: 15 });
    expect((await wait).status).toBe(143);
    expect((await rejection(client.call(A.startContainer, { containerId: "c1" }))).code).toBe(Code.FAILED_PRECONDITION);
  });

  it("answers NOT_FOUND for an unknown container or exec id", async () => {
    expect((await rejection(client.call(A.signalProcess, { containerId: "nope", execId: "", signal: 15 }))).code).toBe(
      Code.NOT_FOUND,
    );
    expect((await rejection(client.call(A.startContainer, { containerId: "nope" }))).code).toBe(Code.NOT_FOUND);
    expect((await rejection(client.call(A.removeContainer, { containerId: "nope" }))).code).toBe(Code.NOT_FOUND);
    await runContainer("c1", ["sleep", "1000"]);
    expect((await rejection(client.call(A.readStdout, { containerId: "c1", execId: "nope", len: 1 }))).code).toBe(
      Code.NOT_FOUND,
    );
  });

  it("RemoveContainer kills what is left and forgets the container", async () => {
    const pid = await runContainer("c1", ["sleep", "1000"]);
    const read = held(client.call(A.readStdout, { containerId: "c1", execId: "c1", len: 10 }));
    await client.call(A.removeContainer, { containerId: "c1" });
    expect(isRunning(pid)).toBe(false);
    expect((await rejection(read)).code).toBe(END_OF_STREAM_CODE);
    expect(t.agent.sandbox.containerIds()).toEqual([]);
    // The id can be used again.
    await runContainer("c1", ["true"]);
    expect((await client.call(A.waitProcess, { containerId: "c1", execId: "c1" })).status).toBe(0);
  });
});

describe("long polls", () => {
  it("GetOOMEvent blocks until DestroySandbox", async () => {
    const oom = held(client.call(A.getOOMEvent, {}));
    expect(await stateAfter(oom, 300)).toBe("pending");
    await client.call(A.destroySandbox, {});
    expect((await rejection(oom)).code).toBe(Code.NOT_FOUND);
  });

  it("GetOOMEvent ends when its call is aborted, and DestroySandbox still works after", async () => {
    const err = await rejection(client.call(A.getOOMEvent, {}, { timeoutMs: 100 }));
    expect(err.code).toBe(Code.DEADLINE_EXCEEDED);
    await client.call(A.destroySandbox, {});
  });

  it("a read cut short by its deadline takes no data from later reads", async () => {
    await runContainer("c1", ["sleep", "1000"]);
    await exec("c1", "e1", ["cat"]);
    const err = await rejection(
      client.call(A.readStdout, { containerId: "c1", execId: "e1", len: 100 }, { timeoutMs: 100 }),
    );
    expect(err.code).toBe(Code.DEADLINE_EXCEEDED);
    await client.call(A.writeStdin, { containerId: "c1", execId: "e1", data: Buffer.from("zz") });
    expect(
      Buffer.from((await client.call(A.readStdout, { containerId: "c1", execId: "e1", len: 100 })).data).toString(),
    ).toBe("zz");
  });

  it("serves many concurrent long polls on one connection", async () => {
    await runContainer("c1", ["sleep", "1000"]);
    const n = 40;
    const ids = Array.from({ length: n }, (_, i) => `e${i}`);
    // Every exec waits for its stdin before printing, so all reads are parked first.
    for (const id of ids) await exec("c1", id, ["sh", "-c", `read x; echo "$x-${id}"; echo "${id}" >&2`]);
    const outs = ids.map((id) => held(client.call(A.readStdout, { containerId: "c1", execId: id, len: 1024 })));
    const errs = ids.map((id) => held(client.call(A.readStderr, { containerId: "c1", execId: id, len: 1024 })));
    const waits = ids.map((id) => held(client.call(A.waitProcess, { containerId: "c1", execId: id })));
    const oom = held(client.call(A.getOOMEvent, {}));
    expect(await stateAfter(Promise.race([...outs, ...errs, ...waits]), 100)).toBe("pending");
    // Calls on the same connection are not held up by the parked ones.
    expect((await client.call(Health.method.check, {})).status).toBe(1);
    // Release them in reverse order: each answer arrives independently.
    for (const id of [...ids].reverse())
      await client.call(A.writeStdin, { containerId: "c1", execId: id, data: Buffer.from("go\n") });
    const texts = (await Promise.all(outs)).map((r) => Buffer.from(r.data).toString());
    expect(texts).toEqual(ids.map((id) => `go-${id}\n`));
    expect((await Promise.all(errs)).map((r) => Buffer.from(r.data).toString())).toEqual(ids.map((id) => `${id}\n`));
    expect((await Promise.all(waits)).map((r) => r.status)).toEqual(ids.map(() => 0));
    expect(await stateAfter(oom, 10)).toBe("pending");
    expect(client.pendingCalls).toBe(1);
  });
});

describe("sandbox and service", () => {
  it("records the sandbox id and hostname, once", async () => {
    expect(t.agent.sandbox.id).toBe("sb1");
    expect(t.agent.sandbox.hostname).toBe("pod1");
    expect((await rejection(client.call(A.createSandbox, { sandboxId: "sb2" }))).code).toBe(Code.ALREADY_EXISTS);
  });

  it("leaves nothing running after DestroySandbox", async () => {
    const initPid = await runContainer("c1", ["sh", "-c", "sleep 1000 & sleep 1000 & wait"]);
    await exec("c1", "e1", ["sh", "-c", "sleep 1000 & wait"]);
    const execPid = t.agent.sandbox.process("c1", "e1").pid as number;
    await runContainer("c2", ["sleep", "1000"]);
    const c2Pid = t.agent.sandbox.process("c2", "c2").pid as number;
    await until(
      () => groupMembers(initPid).length === 3 && groupMembers(execPid).length === 2,
      5000,
      "all children started",
    );
    const pids = [...groupMembers(initPid), ...groupMembers(execPid), c2Pid];
    expect(pids.every(isRunning)).toBe(true);
    const wait = held(client.call(A.waitProcess, { containerId: "c2", execId: "c2" }));

    await client.call(A.destroySandbox, {});
    await until(() => pids.every((p) => !isRunning(p)), 5000, "every process gone");
    expect((await wait).status).toBe(137);
    expect(t.agent.sandbox.containerIds()).toEqual([]);
    expect(t.agent.sandbox.id).toBeUndefined();
    // A new sandbox can follow.
    await client.call(A.createSandbox, { sandboxId: "sb2" });
  });

  it("closing the agent kills its processes and ends the calls under way", async () => {
    const pid = await runContainer("c1", ["sleep", "1000"]);
    const wait = held(client.call(A.waitProcess, { containerId: "c1", execId: "c1" }));
    const oom = held(client.call(A.getOOMEvent, {}));
    // Both calls are parked at the agent before it closes.
    expect(await stateAfter(Promise.race([wait, oom]), 50)).toBe("pending");
    await t.agent.close();
    expect(isRunning(pid)).toBe(false);
    expect((await wait).status).toBe(137);
    expect((await rejection(oom)).code).not.toBe(Code.OK);
    await expect(fs.stat(t.agent.socketPath)).rejects.toThrow(/ENOENT/);
  });

  it("answers UNIMPLEMENTED naming a method it does not serve", async () => {
    const err = await rejection(client.call(A.pauseContainer, { containerId: "c1" }));
    expect(err.code).toBe(Code.UNIMPLEMENTED);
    expect(err.statusMessage).toContain("PauseContainer");
    const raw = await rejection(client.callRaw("grpc.AgentService", "NoSuchCall", new Uint8Array()));
    expect(raw.code).toBe(Code.UNIMPLEMENTED);
    expect(raw.statusMessage).toContain("NoSuchCall");
  });

  it("acknowledges the network and storage set-up calls", async () => {
    const iface = await client.call(A.updateInterface, { interface: { name: "eth0", mtu: 1450n } });
    expect(iface.name).toBe("eth0");
    expect(iface.mtu).toBe(1450n);
    const routes = await client.call(A.updateRoutes, { routes: { Routes: [{ dest: "10.0.0.0/8", device: "eth0" }] } });
    expect(routes.Routes.map((r) => r.dest)).toEqual(["10.0.0.0/8"]);
    expect((await client.call(A.listInterfaces, {})).Interfaces).toEqual([]);
    expect((await client.call(A.listRoutes, {})).Routes).toEqual([]);
    await client.call(A.addARPNeighbors, {});
    await client.call(A.updateEphemeralMounts, {});
    await client.call(A.removeStaleVirtiofsShareMounts, {});
    await client.call(A.setPolicy, { policy: "package agent_policy" });
    await client.call(A.copyFile, { path: "/etc/hosts" });
    await client.call(A.onlineCPUMem, { nbCpus: 2 });
    await client.call(A.setGuestDateTime, { Sec: 1n });
  });

  it("answers Health.Check SERVING and Health.Version with the agent version", async () => {
    expect((await client.call(Health.method.check, {})).status).toBe(1);
    const v = await client.call(Health.method.version, {});
    expect(v.agentVersion).toBe(DEFAULT_AGENT_INFO.version);
    expect(v.grpcVersion).not.toBe("");
  });
});
