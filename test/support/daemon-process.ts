// Runs the real daemon as a child process for end-to-end tests: its own state, pods and VM
// folders under a temp directory, a free probe port, and clean-up of every VM it leaves.
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { CONTROL_PREFACE, CONTROL_SERVICE, decodeJson, encodeJson } from "../../src/relay/index.ts";
import { connectUnix, RawClient } from "../../src/ttrpc/raw.ts";
import { runCommand } from "../../src/util/run-command.ts";
import { freePort } from "./test-scope.ts";

export { freePort };

const DAEMON = fileURLToPath(new URL("../../src/cli/cloud-api-adaptor.ts", import.meta.url));

export interface DaemonDirs {
  readonly root: string;
  readonly stateDir: string;
  readonly podsDir: string;
  readonly socketPath: string;
  readonly vmsDir: string;
  /** The relay's control socket; the daemon starts a relay there when none answers. */
  readonly relaySocket: string;
}

export interface RunningDaemon {
  readonly child: ChildProcess;
  readonly probePort: number;
  readonly dirs: DaemonDirs;
  /** Everything the daemon logged so far. */
  logs(): string;
  /** SIGTERM and wait. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait: what a crash looks like. */
  kill(): Promise<void>;
  /** Sends the signal to the daemon's whole process group, as a container runtime stopping its
   * container does, and waits for the daemon to exit (needs `processGroup`). */
  killGroup(signal: NodeJS.Signals): Promise<void>;
  /** GET on the debug server (from inside the daemon's network namespace when it has one). */
  probe(pathname: string): Promise<{ status: number; body: string }>;
}

export async function makeDaemonDirs(prefix = "caa-"): Promise<DaemonDirs> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  return {
    root,
    stateDir: path.join(root, "state"),
    podsDir: path.join(root, "pods"),
    socketPath: path.join(root, "hypervisor.sock"),
    vmsDir: path.join(root, "vms"),
    relaySocket: path.join(root, "relay.sock"),
  };
}

export interface StartDaemonOptions {
  /** The daemon's entry file; default this checkout's src/cli/cloud-api-adaptor.ts (another
   * build: see other-build.ts). */
  readonly entry?: string;
  /** Its own process group, so killGroup can stop it the way a container runtime does. */
  readonly processGroup?: boolean;
  /** Node's flags before the entry (the bench runs the compiled daemon as the image does). */
  readonly nodeFlags?: readonly string[];
}

/** Starts the daemon and waits until /readyz says ready (or the process exits). */
export async function startDaemon(
  dirs: DaemonDirs,
  extraEnv: Record<string, string> = {},
  args: string[] = [],
  netns?: string,
  options: StartDaemonOptions = {},
): Promise<RunningDaemon> {
  const entry = options.entry ?? DAEMON;
  // A caller may choose the port, to watch the probes before the daemon is ready.
  const probePort = extraEnv.PROBE_PORT !== undefined ? Number(extraEnv.PROBE_PORT) : await freePort();
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    CLOUD_PROVIDER: "local",
    CAA_STATE_DIR: dirs.stateDir,
    PODS_DIR: dirs.podsDir,
    REMOTE_HYPERVISOR_ENDPOINT: dirs.socketPath,
    RELAY_SOCKET: dirs.relaySocket,
    LOCAL_VM_DIR: dirs.vmsDir,
    LOCAL_NETWORK: "loopback",
    PROBE_PORT: String(probePort),
    LOG_LEVEL: "info",
    SOCKET_LINGER: "200ms",
    NODE_NAME: "test-node",
    ...extraEnv,
  };
  const node = [process.execPath, ...(options.nodeFlags ?? []), entry, ...args];
  const [cmd, argv] = netns === undefined ? [node[0]!, node.slice(1)] : ["ip", ["netns", "exec", netns, ...node]];
  const child = spawn(cmd, argv, { env, stdio: ["ignore", "pipe", "pipe"], detached: options.processGroup === true });
  const probe = async (pathname: string) => {
    const url = `http://127.0.0.1:${probePort}${pathname}`;
    if (netns === undefined) {
      const res = await fetch(url);
      return { status: res.status, body: await res.text() };
    }
    const out = await runCommand("ip", ["netns", "exec", netns, "curl", "-s", "-w", "\n%{http_code}", url]);
    const cut = out.lastIndexOf("\n");
    return { status: Number(out.slice(cut + 1)), body: out.slice(0, cut) };
  };
  let output = "";
  child.stdout!.on("data", (c: Buffer) => (output += c.toString()));
  child.stderr!.on("data", (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const deadline = Date.now() + 60_000;
  for (;;) {
    const code = await Promise.race([exited, new Promise<"wait">((r) => setTimeout(() => r("wait"), 50))]);
    if (code !== "wait") throw new Error(`daemon exited with ${code} before it was ready:\n${output}`);
    try {
      if ((await probe("/readyz")).status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`daemon not ready in 60s:\n${output}`);
    }
  }
  return {
    child,
    probePort,
    dirs,
    logs: () => output,
    stop: async () => {
      child.kill("SIGTERM");
      return exited;
    },
    kill: async () => {
      child.kill("SIGKILL");
      await exited;
    },
    killGroup: async (signal) => {
      if (options.processGroup !== true) throw new Error("killGroup needs a daemon started with processGroup");
      if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, signal);
      await exited;
    },
    probe,
  };
}

/** The local VMs in the folder with their process group (undefined: none recorded). */
async function localVmGroups(dirs: DaemonDirs): Promise<{ name: string; pgid: number | undefined }[]> {
  const vms = [];
  for (const name of await fs.readdir(dirs.vmsDir).catch(() => [] as string[])) {
    let pgid: number | undefined;
    try {
      pgid = (JSON.parse(await fs.readFile(path.join(dirs.vmsDir, name, "vm.json"), "utf8")) as { pgid?: number }).pgid;
    } catch {
      // no record, or one cut short
    }
    vms.push({ name, pgid });
  }
  return vms;
}

/** Names of the local VMs whose process group still runs, sorted. */
export async function liveLocalVms(dirs: DaemonDirs): Promise<string[]> {
  const live: string[] = [];
  for (const { name, pgid } of await localVmGroups(dirs)) {
    if (pgid === undefined) continue;
    try {
      process.kill(-pgid, 0);
      live.push(name);
    } catch {
      // gone
    }
  }
  return live.sort();
}

/** Kills every local VM left in the folder and the relay, and removes the temp tree: tests call
 * it last. Returns the VMs that were left (the relay outlives the daemon by design). */
export async function cleanupDaemonDirs(dirs: DaemonDirs): Promise<string[]> {
  await killRelay(dirs.relaySocket);
  const leftovers: string[] = [];
  for (const { name, pgid } of await localVmGroups(dirs)) {
    if (pgid === undefined) continue; // no record
    try {
      process.kill(-pgid, "SIGKILL");
      leftovers.push(name);
    } catch {
      // already gone
    }
  }
  await fs.rm(dirs.root, { recursive: true, force: true });
  return leftovers;
}

export interface SandboxInfo {
  id: string;
  state: string;
  vmName?: string;
  address?: string;
  vni?: number;
  tunnel?: string;
  error?: string;
}

export async function debugSandboxes(probePort: number): Promise<SandboxInfo[]> {
  const res = await fetch(`http://127.0.0.1:${probePort}/debug/sandboxes`);
  return (await res.json()) as SandboxInfo[];
}

/** The pid of the relay answering on the socket, or undefined when none answers. */
export async function relayPid(relaySocket: string): Promise<number | undefined> {
  let socket;
  try {
    socket = await connectUnix(relaySocket, 2000);
  } catch {
    return undefined;
  }
  socket.write(CONTROL_PREFACE);
  const client = new RawClient(socket);
  try {
    const reply = await client.callRaw(
      CONTROL_SERVICE,
      "Hello",
      encodeJson({ clientTls: null, controlPlane: "test clean-up" }),
      { timeoutMs: 5000 },
    );
    return decodeJson<{ pid: number }>(reply, "Hello").pid;
  } catch {
    return undefined;
  } finally {
    client.close();
  }
}

/** SIGKILLs the relay answering on the socket and waits until it is gone. */
export async function killRelay(relaySocket: string): Promise<number | undefined> {
  const pid = await relayPid(relaySocket);
  if (pid === undefined) return undefined;
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    return undefined;
  }
  for (let i = 0; i < 200; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      break;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return pid;
}

/** The cluster mark a daemon on these folders puts on its VMs (CLUSTER_NAME/its cluster id). */
export async function clusterMark(dirs: DaemonDirs, clusterName = "default"): Promise<string> {
  return `${clusterName}/${(await fs.readFile(path.join(dirs.stateDir, "cluster-id"), "utf8")).trim()}`;
}
