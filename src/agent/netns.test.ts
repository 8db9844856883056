// Container processes started inside a network namespace (the VM's podns). Needs root, like
// the rest of the network tests.

import { execFile } from "node:child_process";
import { readlinkSync, statSync } from "node:fs";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestAgent } from "../../test/support/agent-harness.ts";
import { AgentService } from "../gen/agent_pb.js";
import { startAgent } from "./agent-server.ts";

const run = promisify(execFile);
const A = AgentService.method;
const NAME = `caa-agent-test-${process.pid}`;
const NETNS = `/run/netns/${NAME}`;

beforeAll(async () => {
  await run("ip", ["netns", "add", NAME]);
});

afterAll(async () => {
  await run("ip", ["netns", "del", NAME]);
});

async function outputOf(netns: string | undefined, args: string[]): Promise<string> {
  const t = await startTestAgent({ netns });
  try {
    await t.client.call(A.createContainer, {
      containerId: "c1",
      execId: "c1",
      OCI: { Process: { Args: args, Cwd: "/" } },
    });
    await t.client.call(A.startContainer, { containerId: "c1" });
    let out = "";
    for (;;) {
      try {
        out += Buffer.from(
          (await t.client.call(A.readStdout, { containerId: "c1", execId: "c1", len: 4096 })).data,
        ).toString();
      } catch {
        break;
      }
    }
    expect((await t.client.call(A.waitProcess, { containerId: "c1", execId: "c1" })).status).toBe(0);
    return out;
  } finally {
    await t.close();
  }
}

describe("netns option", () => {
  it("starts container processes inside the namespace", async () => {
    const out = await outputOf(NETNS, ["readlink", "/proc/self/ns/net"]);
    expect(out.trim()).toBe(`net:[${statSync(NETNS).ino}]`);
    // Only the loopback device, and it is down: a fresh namespace.
    expect(await outputOf(NETNS, ["ip", "-o", "link"])).toMatch(/^1: lo: <LOOPBACK>[^\n]*\n$/);
  });

  it("leaves processes in the agent's namespace by default", async () => {
    const out = await outputOf(undefined, ["readlink", "/proc/self/ns/net"]);
    expect(out.trim()).toBe(readlinkSync("/proc/self/ns/net"));
    expect(out.trim()).not.toBe(`net:[${statSync(NETNS).ino}]`);
  });

  it("refuses to start with a namespace path that does not exist", async () => {
    await expect(startAgent({ socketPath: "/tmp/never-used.sock", netns: "/run/netns/no-such-ns" })).rejects.toThrow(
      /no-such-ns/,
    );
  });
});
