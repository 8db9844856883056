// Starts peerpod-relay as a detached process (its own session and process group, output to a
// log file), as `cloud-api-adaptor` does on a machine where no relay runs: the relay outlives
// the control plane that started it, as local VMs do, so restarting or upgrading the control
// plane never touches the shims' connections. Under Kubernetes the relay has its own DaemonSet
// and START_RELAY=false.
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const RELAY_BIN = fileURLToPath(new URL("../../../bin/peerpod-relay.js", import.meta.url));

/** V8 flags the relay runs with: a small young generation keeps its resident memory low, and a
 * relay is mostly idle sockets. */
export const RELAY_NODE_FLAGS = ["--max-semi-space-size=1"];

export interface StartRelayOptions {
  readonly relaySocket: string;
  readonly hypervisorSocket: string;
  readonly podsDir: string;
  readonly proxyTimeoutMs: number;
  readonly logLevel: string;
  /** Where the relay's output goes (appended, 0600). */
  readonly logFile: string;
  /** Passed on: PATH, NODE_COMPILE_CACHE. */
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** Spawns the relay and returns its pid; it is not waited for (connect to its socket). */
export function startDetachedRelay(o: StartRelayOptions): number {
  fs.mkdirSync(path.dirname(o.logFile), { recursive: true, mode: 0o700 });
  const out = fs.openSync(o.logFile, "a", 0o600);
  try {
    const env: Record<string, string> = {
      PATH: o.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin",
      RELAY_SOCKET: o.relaySocket,
      REMOTE_HYPERVISOR_ENDPOINT: o.hypervisorSocket,
      PODS_DIR: o.podsDir,
      PROXY_TIMEOUT: `${o.proxyTimeoutMs}ms`,
      LOG_LEVEL: o.logLevel,
    };
    if (o.env.NODE_COMPILE_CACHE) env.NODE_COMPILE_CACHE = o.env.NODE_COMPILE_CACHE;
    const child = spawn(process.execPath, [...RELAY_NODE_FLAGS, RELAY_BIN], {
      detached: true,
      stdio: ["ignore", out, out],
      env,
      cwd: "/",
    });
    child.unref();
    if (child.pid === undefined) throw new Error(`could not start ${RELAY_BIN}`);
    return child.pid;
  } finally {
    fs.closeSync(out);
  }
}
