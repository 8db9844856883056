// The agent relay's cost: the same calls made (a) through the pod's agent socket → AgentProxy →
// mutual TLS → forwarder → agent and (b) straight on the agent's Unix socket, with the same test
// agent (test/support/relay-test-agent.ts) and the same client code.
//
// Processes, as in production: this script plays the shim; the real peerpod-relay
// (bin/peerpod-relay.js, driven over its control socket as cloud-api-adaptor drives it) serves
// the pod's agent socket; a "vm" process runs the forwarder and the agent
// (test/support/relay-role-entry.ts).
//
// Measured: latency (p50, p99) of Health.Check and of a ReadStdout answering 32 KiB, each as
// sequential calls after a warm-up; throughput of 32 KiB ReadStdout calls, 8 at a time on one
// connection (as the shim multiplexes its long polls); and the CPU time each process spends per
// Check, which shows where the work is. Rounds alternate the two paths; each figure is the
// median over the rounds.
//
// Run: node bench/proxy.ts   (last line: RESULT proxy_p50_ratio=… added_p50_us=… stream_throughput_ratio=…)
//
// Findings (2-vCPU Firecracker VM shared with other work; wall-clock figures moved by 2-4x
// between runs, so read ranges, not digits):
// - Targets (p50 ratio ≤ 1.5, throughput ratio ≥ 0.8) are not met here: Check p50 ratio 2.2-5
//   (adds 90-150 µs), 32 KiB c8 throughput ratio 0.5-0.8.
// - Where the time goes: the proxied call crosses four sockets that wake another process
//   (shim→daemon→VM and back) where the direct call crosses two, plus the in-VM hop from the
//   forwarder to the agent. A --cpu-prof of the daemon while relaying Check calls puts over half
//   of its busy time in the native write (writeBuffer: kernel socket send, which on this VM
//   includes waking the receiver, plus the TLS record); its own JS (framing, bookkeeping) is
//   under 3%, GC about 6%. The daemon's CPU per Check (65-120 µs) is two to three times the
//   direct client's: the cost of the extra hops, not of the relay logic.
// - For 32 KiB replies the daemon is mostly idle (~80%); the VM process is the busy one, with
//   the agent's own allocations (GC ~25%) and TLS encryption. One TLS hop costs ~60 µs of CPU
//   per 32 KiB (both ends, measured alone); AES-128-GCM or ChaCha20 instead of the default
//   AES-256-GCM were within noise, so the defaults stay.
// - Done: frames are relayed as views of the chunks they arrived in (FrameSplitter) instead of
//   FrameDecoder's joined copies — a 32 KiB reply arrives as 16 KiB TLS records — and with no
//   per-frame header buffer; writes of one chunk are corked into one syscall; Nagle is off on
//   both TLS ends; the TLS context is built once per proxy, not per dial. None of these moved
//   the wall-clock figures beyond this machine's noise: the hops dominate.
// - The direct path is a lower bound no peer pod can have (the agent is in a remote VM); what
//   matters is the added ~0.1 ms per call against a network round trip to the VM.
import { type ChildProcess, fork } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { AgentService } from "../src/gen/agent_pb.js";
import { Health } from "../src/gen/health_pb.js";
import { Client } from "../src/ttrpc/index.ts";
import { startRelayProcess } from "../test/support/relay-process.ts";
import type { RoleCpu, RoleReady } from "../test/support/relay-role-entry.ts";
import { createTestPki } from "../test/support/test-certs.ts";

const ROLE_ENTRY = fileURLToPath(new URL("../test/support/relay-role-entry.ts", import.meta.url));
const ROUNDS = 5;
const LATENCY_CALLS = 3000;
const LATENCY_WARMUP = 500;
const READ_SIZE = 32 * 1024;
const STREAM_CALLS = 3000;
const STREAM_WARMUP = 300;
const STREAM_CONCURRENCY = 8;

type Path = "direct" | "proxied";

interface Latency {
  readonly p50: number;
  readonly p99: number;
}

interface RoundResult {
  readonly check: Latency;
  readonly read: Latency;
  /** MB/s (10^6 bytes) of ReadStdout data. */
  readonly throughput: number;
  /** CPU µs per Check call, by process. */
  readonly cpu: { readonly client: number; readonly relay: number; readonly vm: number };
}

interface Role {
  readonly ready: RoleReady;
  cpuMicros(): Promise<number>;
  stop(): Promise<void>;
}

async function startRole(args: string[]): Promise<Role> {
  const child: ChildProcess = fork(ROLE_ENTRY, args, { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const ready = await Promise.race([
    new Promise<RoleReady>((resolve) => child.once("message", (m: RoleReady) => resolve(m))),
    exited.then((code) => Promise.reject(new Error(`${args[0]} process exited (${code}) before it was ready`))),
  ]);
  return {
    ready,
    cpuMicros: () =>
      new Promise((resolve) => {
        child.once("message", (m: RoleCpu) => resolve(m.us));
        child.send({ type: "cpu" });
      }),
    async stop() {
      child.send({ type: "stop" });
      const code = await exited;
      if (code !== 0) throw new Error(`${args[0]} process exited with code ${code}`);
    },
  };
}

/** The real peerpod-relay serving one pod towards the VM's forwarder. */
async function startRelay(dir: string, port: number, client: { ca: string; cert: string; key: string }): Promise<Role> {
  const relay = await startRelayProcess(dir, client);
  const socketPath = await relay.serve("pod", "127.0.0.1", port);
  return { ready: { type: "ready", socketPath }, cpuMicros: () => relay.cpuMicros(), stop: () => relay.stop() };
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.max(1, Math.ceil((p / 100) * sorted.length)) - 1]!;
}

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

async function latency(call: () => Promise<unknown>): Promise<Latency> {
  const samples = new Float64Array(LATENCY_CALLS);
  for (let i = 0; i < LATENCY_CALLS; i++) {
    const start = performance.now();
    await call();
    samples[i] = (performance.now() - start) * 1000;
  }
  samples.sort();
  return { p50: percentile(samples, 50), p99: percentile(samples, 99) };
}

async function throughput(call: () => Promise<number>): Promise<number> {
  const run = async (count: number) => {
    let next = 0;
    let bytes = 0;
    const worker = async () => {
      while (next++ < count) {
        const n = await call();
        bytes += n;
      }
    };
    await Promise.all(Array.from({ length: STREAM_CONCURRENCY }, worker));
    return bytes;
  };
  await run(STREAM_WARMUP);
  const start = performance.now();
  const bytes = await run(STREAM_CALLS);
  return bytes / 1e6 / ((performance.now() - start) / 1000);
}

async function measure(socketPath: string, relay: Role, vm: Role): Promise<RoundResult> {
  const client = await Client.connect(socketPath);
  try {
    const check = () => client.call(Health.method.check, {});
    const read = async () => {
      const r = await client.call(AgentService.method.readStdout, { containerId: "c", execId: "e", len: READ_SIZE });
      if (r.data.length !== READ_SIZE) throw new Error(`ReadStdout answered ${r.data.length} bytes, not ${READ_SIZE}`);
      return r.data.length;
    };
    for (let i = 0; i < LATENCY_WARMUP; i++) await check();
    const before = { client: process.cpuUsage(), relay: await relay.cpuMicros(), vm: await vm.cpuMicros() };
    const checkLatency = await latency(check);
    const used = process.cpuUsage(before.client);
    const cpu = {
      client: (used.user + used.system) / LATENCY_CALLS,
      relay: ((await relay.cpuMicros()) - before.relay) / LATENCY_CALLS,
      vm: ((await vm.cpuMicros()) - before.vm) / LATENCY_CALLS,
    };
    for (let i = 0; i < LATENCY_WARMUP; i++) await read();
    const readLatency = await latency(read);
    return { check: checkLatency, read: readLatency, throughput: await throughput(read), cpu };
  } finally {
    client.close();
  }
}

function printTable(rows: string[][]): void {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  for (const r of rows)
    console.log(r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  "));
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "bench-proxy-"));
  const roles: Role[] = [];
  const results: Record<Path, RoundResult[]> = { proxied: [], direct: [] };
  let stopped: PromiseSettledResult<void>[] = [];
  try {
    const pki = await createTestPki();
    await writeFile(join(dir, "tls.json"), JSON.stringify({ server: pki.server, client: pki.client }), { mode: 0o600 });
    const vm = await startRole(["vm", dir]);
    roles.push(vm);
    const relay = await startRelay(dir, vm.ready.port!, pki.client);
    roles.push(relay);
    const paths: Record<Path, string> = { proxied: relay.ready.socketPath!, direct: vm.ready.agentSocket! };
    for (let round = 0; round < ROUNDS; round++) {
      // Alternate which path goes first, so drift over the run spreads evenly.
      const order: Path[] = round % 2 === 0 ? ["proxied", "direct"] : ["direct", "proxied"];
      for (const which of order) results[which].push(await measure(paths[which], relay, vm));
    }
  } finally {
    stopped = await Promise.allSettled(roles.reverse().map((r) => r.stop()));
    await rm(dir, { recursive: true, force: true });
  }
  // Reported after the clean-up, so a failed stop never hides the run's own error.
  for (const s of stopped) if (s.status === "rejected") throw s.reason;

  const fig = (which: Path, pick: (r: RoundResult) => number) => median(results[which].map(pick));
  console.log(
    `median of ${ROUNDS} rounds; ${LATENCY_CALLS} sequential calls per latency figure; throughput: ${STREAM_CALLS} calls, ${STREAM_CONCURRENCY} at a time on one connection`,
  );
  printTable([
    [
      "path",
      "Check p50 µs",
      "Check p99 µs",
      "32KiB read p50 µs",
      "32KiB read p99 µs",
      "32KiB c8 MB/s",
      "CPU/Check µs: client",
      "relay",
      "vm",
    ],
    ...(["direct", "proxied"] as const).map((which) => [
      which,
      fig(which, (r) => r.check.p50).toFixed(1),
      fig(which, (r) => r.check.p99).toFixed(1),
      fig(which, (r) => r.read.p50).toFixed(1),
      fig(which, (r) => r.read.p99).toFixed(1),
      fig(which, (r) => r.throughput).toFixed(0),
      fig(which, (r) => r.cpu.client).toFixed(1),
      fig(which, (r) => r.cpu.relay).toFixed(1),
      fig(which, (r) => r.cpu.vm).toFixed(1),
    ]),
  ]);

  const p50Proxied = fig("proxied", (r) => r.check.p50);
  const p50Direct = fig("direct", (r) => r.check.p50);
  const throughputRatio = fig("proxied", (r) => r.throughput) / fig("direct", (r) => r.throughput);
  console.log(
    `RESULT proxy_p50_ratio=${(p50Proxied / p50Direct).toFixed(3)} added_p50_us=${(p50Proxied - p50Direct).toFixed(1)} stream_throughput_ratio=${throughputRatio.toFixed(3)}`,
  );
}

await main();
