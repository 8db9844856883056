// The real peerpod-relay as its own process, as the image runs it (the compiled JavaScript of
// `npm run build`, dist/bin/peerpod-relay.js, with the flags cloud-api-adaptor starts it with),
// driven over its control socket as the control plane drives it: for benches that measure the
// relay itself.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { RELAY_NODE_FLAGS } from "../../src/relay/client/index.ts";
import { CONTROL_PREFACE, CONTROL_SERVICE, encodeJson } from "../../src/relay/index.ts";
import { connectUnix, RawClient } from "../../src/ttrpc/raw.ts";

// Built by `npm run build`, so not in a fresh checkout: named by folder, not as an import-like URL
// (test/import-graph.test.ts resolves those against the tree).
export const COMPILED_RELAY = join(fileURLToPath(new URL("../..", import.meta.url)), "dist", "bin", "peerpod-relay.js");

export interface RelayProcess {
  readonly pid: number;
  /** Serves a sandbox's agent socket under `dir`/pods towards the forwarder; returns its path. */
  serve(sandboxId: string, host: string, port: number): Promise<string>;
  /** Resident memory (VmRSS), MiB. */
  rssMb(): Promise<number>;
  /** CPU time used so far (user + system), µs, at the kernel's 10 ms tick. */
  cpuMicros(): Promise<number>;
  /** SIGTERM and wait; rejects unless it exits 0. */
  stop(): Promise<void>;
}

export async function startRelayProcess(
  dir: string,
  clientTls: { ca: string; cert: string; key: string },
): Promise<RelayProcess> {
  if (!existsSync(COMPILED_RELAY)) throw new Error(`${COMPILED_RELAY} is missing: run npm run build first`);
  const relaySocket = join(dir, "relay.sock");
  // RELAY_BENCH_FLAGS (space-separated) replaces the flags, to measure others (docs/testing.md):
  // NODE_OPTIONS refuses most V8 flags (--no-opt, --no-maglev).
  const flags = process.env.RELAY_BENCH_FLAGS?.split(" ").filter(Boolean) ?? RELAY_NODE_FLAGS;
  const child = spawn(process.execPath, [...flags, COMPILED_RELAY], {
    stdio: ["ignore", "inherit", "inherit"],
    env: {
      PATH: process.env.PATH,
      RELAY_SOCKET: relaySocket,
      REMOTE_HYPERVISOR_ENDPOINT: join(dir, "hypervisor.sock"),
      PODS_DIR: join(dir, "pods"),
      LOG_LEVEL: "warn",
      ...(process.env.NODE_COMPILE_CACHE ? { NODE_COMPILE_CACHE: process.env.NODE_COMPILE_CACHE } : {}),
      // V8 flags to try on the relay (e.g. NODE_OPTIONS=--max-old-space-size=24 npm run bench:relay).
      ...(process.env.NODE_OPTIONS ? { NODE_OPTIONS: process.env.NODE_OPTIONS } : {}),
    },
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  let control: RawClient | undefined;
  for (let i = 0; control === undefined; i++) {
    if (child.exitCode !== null) throw new Error(`peerpod-relay exited (${child.exitCode}) before it served`);
    try {
      const socket = await connectUnix(relaySocket, 1000);
      socket.write(CONTROL_PREFACE);
      control = new RawClient(socket);
    } catch (err) {
      if (i > 400) throw err;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  const call = (method: string, req: unknown) =>
    control.callRaw(CONTROL_SERVICE, method, encodeJson(req), { timeoutMs: 30_000 });
  await call("Hello", {
    clientTls: { caPem: clientTls.ca, certPem: clientTls.cert, keyPem: clientTls.key },
    controlPlane: "bench",
  });
  const status = () => readFile(`/proc/${child.pid}/status`, "utf8");
  return {
    pid: child.pid!,
    async serve(sandboxId, host, port) {
      const socketPath = join(dir, "pods", sandboxId, "agent.ttrpc");
      await call("Serve", { sandboxId, socketPath, host, port, serverName: "" });
      return socketPath;
    },
    rssMb: async () => Number(/VmRSS:\s+(\d+) kB/.exec(await status())![1]) / 1024,
    async cpuMicros() {
      const fields = (await readFile(`/proc/${child.pid}/stat`, "utf8")).split(") ")[1]!.split(" ");
      return (Number(fields[11]) + Number(fields[12])) * 10_000; // utime + stime, 1/100 s ticks
    },
    async stop() {
      control.close();
      child.kill("SIGTERM");
      const code = await exited;
      if (code !== 0) throw new Error(`peerpod-relay exited with code ${code}`);
    },
  };
}
