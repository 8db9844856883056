// The minimal-agent entry point as a process: serves on the socket it is given, logs JSON lines
// on stderr, and on SIGTERM kills its container processes and exits 0.

import { spawn } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isRunning, until } from "../../test/support/agent-harness.ts";
import { AgentService } from "../gen/agent_pb.js";
import { Health } from "../gen/health_pb.js";
import { Client } from "../ttrpc/index.ts";

const ENTRY = fileURLToPath(new URL("../cli/minimal-agent.ts", import.meta.url));
const A = AgentService.method;

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "agent-cli-"));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

function startCli(args: string[]) {
  const child = spawn(process.execPath, [ENTRY, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (c: Buffer) => {
    stderr += c.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  return { child, exited, stderr: () => stderr };
}

async function connect(socketPath: string): Promise<Client> {
  const end = Date.now() + 10_000;
  for (;;) {
    try {
      return await Client.connect(socketPath);
    } catch (err) {
      if (Date.now() > end) throw err;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

describe("minimal-agent command", () => {
  it("serves the agent protocol and on SIGTERM kills its processes and exits 0", async () => {
    const socketPath = path.join(dir, "agent.sock");
    const cli = startCli(["--socket", socketPath]);
    try {
      const client = await connect(socketPath);
      expect((await client.call(Health.method.check, {})).status).toBe(1);
      expect((await client.call(Health.method.version, {})).agentVersion).toMatch(/-minimal$/);
      await client.call(A.createContainer, {
        containerId: "c1",
        execId: "c1",
        OCI: { Process: { Args: ["sleep", "1000"], Cwd: "/" } },
      });
      await client.call(A.startContainer, { containerId: "c1" });
      const wait = client.call(A.waitProcess, { containerId: "c1", execId: "c1" });
      await until(() => cli.stderr().includes('"process started"'), 5000, "process start logged");
      const started = cli
        .stderr()
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => l.msg === "process started");
      const pid = started?.pid as number;
      expect(isRunning(pid)).toBe(true);

      cli.child.kill("SIGTERM");
      expect((await wait).status).toBe(137);
      expect(await cli.exited).toEqual({ code: 0, signal: null });
      expect(isRunning(pid)).toBe(false);
      client.close();
      const lines = cli
        .stderr()
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { msg: string; level: string });
      expect(lines.map((l) => l.msg)).toEqual(
        expect.arrayContaining(["agent listening", "container created", "stopping", "agent stopped"]),
      );
      await expect(fs.stat(socketPath)).rejects.toThrow(/ENOENT/);
    } finally {
      if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill("SIGKILL");
    }
  });

  it("exits 1 with the usage on an unknown flag", async () => {
    const cli = startCli(["--bogus"]);
    expect((await cli.exited).code).toBe(1);
    expect(cli.stderr()).toContain("usage: minimal-agent");
  });
});
