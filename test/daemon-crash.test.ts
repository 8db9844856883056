// SIGKILL of the daemon at every step of a sandbox's life, then a restart on the same state:
// every sandbox is usable or removable with StopVM, no VM or process survives that nothing
// claims, and the CA stays the same. The shim's call under way when the daemon died is held by
// peerpod-relay and sent again to the restarted daemon, which answers it.
import fs from "node:fs/promises";
import path from "node:path";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { localProviderConfig } from "../providers/local/config.ts";
import { LocalProvider } from "../providers/local/provider.ts";
import { AgentService } from "../src/gen/agent_pb.js";
import { Client } from "../src/ttrpc/index.ts";
import { useDaemonHooks } from "./support/daemon-hooks.ts";
import {
  clusterMark,
  type DaemonDirs,
  debugSandboxes,
  liveLocalVms,
  makeDaemonDirs,
  type RunningDaemon,
  startDaemon,
} from "./support/daemon-process.ts";
import { hypervisorCalls } from "./support/hypervisor-calls.ts";

let dirs: DaemonDirs | undefined;
let daemon: RunningDaemon | undefined;

useDaemonHooks({ dirs: () => dirs, daemon: () => daemon });

const { create, start, stop } = hypervisorCalls(() => dirs!.socketPath, { startMs: 60_000 });
const caFingerprint = async () => fs.readFile(path.join(dirs!.stateDir, "ca", "ca.crt"), "utf8");

const vmProcessesAlive = async () => (await liveLocalVms(dirs!)).length;

/** A pod whose container outlives the daemon: proves the VM and its agent survived. */
async function runsCommand(agentSocketPath: string, id: string): Promise<string> {
  const agent = await Client.connect(agentSocketPath);
  try {
    const a = AgentService.method;
    await agent.call(a.createContainer, {
      containerId: id,
      execId: id,
      OCI: { Process: { Args: ["sh", "-c", "echo alive"], Cwd: "/", Env: ["PATH=/usr/bin:/bin"] } },
    });
    await agent.call(a.startContainer, { containerId: id });
    const r = await agent.call(a.readStdout, { containerId: id, execId: id, len: 1024 });
    await agent.call(a.waitProcess, { containerId: id, execId: id });
    await agent.call(a.removeContainer, { containerId: id });
    return Buffer.from(r.data).toString();
  } finally {
    agent.close();
  }
}

describe("daemon killed with SIGKILL", () => {
  it.each(["start-after-intent", "start-after-create", "start-after-vm-saved", "start-after-relay"])(
    "at %s: the restart rolls the half start back, the held StartVM then starts the sandbox anew on one VM, StopVM removes it",
    async (failpoint) => {
      dirs = await makeDaemonDirs();
      daemon = await startDaemon(dirs, { CAA_TEST_FAILPOINT: failpoint });
      const ca = await caFingerprint();
      const { agentSocketPath } = await create("sb");
      const starting = start("sb"); // the daemon dies in the middle of it
      await new Promise((r) => (daemon!.child.exitCode === null ? daemon!.child.once("exit", r) : r(undefined)));
      daemon = await startDaemon(dirs);
      await starting;
      expect(daemon.logs()).toMatch(/"rolledBack":\["sb"\]/);
      expect(await caFingerprint()).toBe(ca);
      expect(await debugSandboxes(daemon.probePort)).toEqual([expect.objectContaining({ id: "sb", state: "running" })]);
      expect(await vmProcessesAlive()).toBe(1);
      expect(await runsCommand(agentSocketPath, "c1")).toBe("alive\n");
      await stop("sb");
      expect(await debugSandboxes(daemon.probePort)).toEqual([]);
      expect(await vmProcessesAlive()).toBe(0);
      expect(await fs.readdir(dirs.vmsDir).catch(() => [])).toEqual([]);
    },
  );

  it("between CreateVM and StartVM: the sandbox starts after the restart", async () => {
    dirs = await makeDaemonDirs();
    daemon = await startDaemon(dirs);
    const { agentSocketPath } = await create("sb");
    await daemon.kill();
    daemon = await startDaemon(dirs);
    await start("sb");
    expect(await runsCommand(agentSocketPath, "c1")).toBe("alive\n");
    await stop("sb");
    expect(await vmProcessesAlive()).toBe(0);
  });

  it("while pods run: the VMs keep running, the agent socket is served again, StopVM works", async () => {
    dirs = await makeDaemonDirs();
    daemon = await startDaemon(dirs);
    const ca = await caFingerprint();
    const { agentSocketPath } = await create("sb");
    await start("sb");
    expect(await runsCommand(agentSocketPath, "c1")).toBe("alive\n");
    await daemon.kill();
    expect(await vmProcessesAlive()).toBe(1);
    daemon = await startDaemon(dirs);
    expect(await caFingerprint()).toBe(ca);
    expect(await debugSandboxes(daemon.probePort)).toEqual([expect.objectContaining({ id: "sb", state: "running" })]);
    expect(await runsCommand(agentSocketPath, "c2")).toBe("alive\n");
    await stop("sb");
    expect(await vmProcessesAlive()).toBe(0);
  });

  it.each(["stop-after-intent", "stop-after-delete"])(
    "at %s: the restart finishes the StopVM and the held call succeeds",
    async (failpoint) => {
      dirs = await makeDaemonDirs();
      daemon = await startDaemon(dirs, { CAA_TEST_FAILPOINT: failpoint });
      await create("sb");
      await start("sb");
      const stopping = stop("sb"); // the daemon dies in the middle of it
      await new Promise((r) => (daemon!.child.exitCode === null ? daemon!.child.once("exit", r) : r(undefined)));
      daemon = await startDaemon(dirs);
      await stopping;
      expect(await debugSandboxes(daemon.probePort)).toEqual([]);
      expect(await vmProcessesAlive()).toBe(0);
      expect(await fs.readdir(dirs.vmsDir).catch(() => [])).toEqual([]);
      await stop("sb"); // the shim retrying StopVM: success
    },
  );

  it("deletes, while running, a VM that no sandbox claims (RECONCILE_INTERVAL)", async () => {
    dirs = await makeDaemonDirs();
    daemon = await startDaemon(dirs, { RECONCILE_INTERVAL: "1s" });
    const stray = new LocalProvider(
      localProviderConfig({ LOCAL_NETWORK: "loopback", LOCAL_VM_DIR: dirs.vmsDir }, dirs.stateDir, false),
      pino({ level: "silent" }),
    );
    await stray.createVm(
      {
        name: "podvm-ghost",
        token: "t",
        owner: { sandboxId: "ghost", node: "test-node", cluster: await clusterMark(dirs) },
        resources: {} as never,
        userData: "#cloud-config\nwrite_files: []\n",
      },
      AbortSignal.timeout(10_000),
    );
    expect(await fs.readdir(dirs.vmsDir)).toEqual(["podvm-ghost"]);
    for (let i = 0; i < 200 && (await fs.readdir(dirs.vmsDir)).length > 0; i++)
      await new Promise((r) => setTimeout(r, 50));
    expect(await fs.readdir(dirs.vmsDir)).toEqual([]);
    expect(daemon.logs()).toContain("deleted peer VM that no sandbox claims");
  });

  it("removes a VM that no record claims (crash before the record reached the disk)", async () => {
    dirs = await makeDaemonDirs();
    daemon = await startDaemon(dirs);
    await create("sb");
    await start("sb");
    await daemon.kill();
    await fs.rm(path.join(dirs.stateDir, "sandboxes", "sb.json"));
    expect(await vmProcessesAlive()).toBe(1);
    daemon = await startDaemon(dirs);
    expect(await vmProcessesAlive()).toBe(0);
    expect(await fs.readdir(dirs.vmsDir).catch(() => [])).toEqual([]);
    expect(daemon.logs()).toContain("deleted peer VM that no sandbox claims");
  });
});
