// Drives the Go ttrpc peer (test/go-peer, built on containerd/ttrpc) from tests and benchmarks.
import { spawn } from "node:child_process";
import { buildGoPeer } from "./go-peer-build.ts";
import { describeExit, type ExitInfo, startPeerProcess } from "./peer-process.ts";

export { buildGoPeer } from "./go-peer-build.ts";

/** How long stop()/close() wait for the process to end by itself before killing it. */
const EXIT_GRACE_MS = 10_000;

export interface GoServer {
  readonly pid: number;
  readonly socketPath: string;
  /** Sends SIGTERM and waits; rejects unless the server exits with code 0. */
  stop(): Promise<void>;
}

export interface GoCallRequest {
  /** Fully qualified service name, e.g. "ttrpc.test.Echo". */
  service: string;
  method: string;
  /** Encoded request message, sent as is. */
  payload: Uint8Array;
  /** Deadline sent on the wire and, unless localTimeoutMs is set, the client's own wait. 0/absent: none. */
  timeoutMs?: number;
  /** The client's own wait when it must differ from the wire deadline (e.g. longer, to see the server's answer). */
  localTimeoutMs?: number;
  /** ttrpc request metadata; keys are sent exactly as given. */
  metadata?: Record<string, string>;
}

export interface GoCallResult {
  /** gRPC status code; 0 is OK. Client-side failures map too (4 for the client's own deadline). */
  code: number;
  message: string;
  /** Encoded response message; empty when code is not 0. */
  payload: Uint8Array;
}

export interface GoClient {
  readonly pid: number;
  /** Runs one call; calls made before earlier ones finish run concurrently on the one connection. */
  call(request: GoCallRequest): Promise<GoCallResult>;
  /** Lets every pending call finish, then ends the process; rejects unless it exits with code 0. */
  close(): Promise<void>;
}

export interface GoBenchOptions {
  socketPath: string;
  /** Bytes of data in each EchoRequest. */
  size: number;
  concurrency: number;
  count: number;
  warmup: number;
  /** Kill the run if it takes longer than this (default 120 s). */
  timeoutMs?: number;
}

/**
 * What bench-client prints. mb_per_s counts request plus response payload bytes (the encoded
 * EchoRequest and EchoResponse, without ttrpc framing) over the wall time of the measured calls,
 * with MB = 10^6 bytes; TypeScript benchmarks must count the same way to be comparable.
 */
export interface GoBenchResult {
  p50_us: number;
  p99_us: number;
  calls: number;
  seconds: number;
  mb_per_s: number;
}

async function endProcess(
  exited: Promise<ExitInfo>,
  kill: () => void,
  describe: (info: ExitInfo) => string,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), EXIT_GRACE_MS);
  });
  const first = await Promise.race([exited, timedOut]);
  clearTimeout(timer);
  if (first === "timeout") {
    kill();
    throw new Error(`did not exit within ${EXIT_GRACE_MS} ms, killed: ${describe(await exited)}`);
  }
  if (first.code !== 0) throw new Error(`did not exit cleanly: ${describe(first)}`);
}

/** Starts `go-peer server` on socketPath and resolves once it listens. */
export async function startGoServer(socketPath: string): Promise<GoServer> {
  const binary = await buildGoPeer();
  // The server prints nothing after READY; anything else is reported by stop().
  const unexpected: string[] = [];
  // -watch-stdin: the server also ends if this process dies without stopping it.
  const peer = await startPeerProcess(binary, ["server", "-socket", socketPath, "-watch-stdin"], (line) => {
    unexpected.push(line);
  });
  return {
    pid: peer.child.pid ?? 0,
    socketPath,
    stop: async () => {
      peer.child.kill("SIGTERM");
      await endProcess(
        peer.exited,
        () => peer.child.kill("SIGKILL"),
        (info) => peer.describe(info),
      );
      if (unexpected.length > 0) {
        throw new Error(`unexpected output from the Go server:\n${unexpected.join("\n")}`);
      }
    },
  };
}

interface ResultLine {
  id: number;
  code: number;
  message: string;
  payload: string;
}

function parseResultLine(line: string): ResultLine {
  const value: unknown = JSON.parse(line);
  const r = value as Partial<ResultLine>;
  if (
    typeof r.id !== "number" ||
    typeof r.code !== "number" ||
    typeof r.message !== "string" ||
    typeof r.payload !== "string"
  ) {
    throw new Error(`malformed result line from the Go client: ${line}`);
  }
  return r as ResultLine;
}

interface Pending {
  resolve(result: GoCallResult): void;
  reject(err: Error): void;
}

/** Starts `go-peer client`, which dials socketPath once and keeps that connection. */
export async function startGoClient(socketPath: string): Promise<GoClient> {
  const binary = await buildGoPeer();
  const pending = new Map<number, Pending>();
  let nextId = 1;
  let closing = false;

  const failAll = (err: Error): void => {
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  const onLine = (line: string): void => {
    const result = parseResultLine(line);
    const waiter = pending.get(result.id);
    if (!waiter) throw new Error(`Go client answered unknown call id ${result.id}`);
    pending.delete(result.id);
    waiter.resolve({
      code: result.code,
      message: result.message,
      payload: new Uint8Array(Buffer.from(result.payload, "base64")),
    });
  };
  const peer = await startPeerProcess(binary, ["client", "-socket", socketPath], (line) => {
    try {
      onLine(line);
    } catch (err) {
      // The stream of answers can no longer be trusted: fail every call and stop the peer.
      failAll(err as Error);
      peer.child.kill("SIGKILL");
    }
  });
  void peer.exited.then((info) => {
    if (pending.size > 0) {
      failAll(new Error(`Go client ended with ${pending.size} call(s) unanswered: ${peer.describe(info)}`));
    }
  });

  return {
    pid: peer.child.pid ?? 0,
    call: (request) => {
      if (closing) return Promise.reject(new Error("Go client is closed"));
      if (peer.child.exitCode !== null || peer.child.signalCode !== null) {
        return Promise.reject(new Error(`Go client has ended: ${peer.describe()}`));
      }
      const id = nextId++;
      const line = JSON.stringify({
        id,
        service: request.service,
        method: request.method,
        payload: Buffer.from(request.payload).toString("base64"),
        timeout_ms: request.timeoutMs ?? 0,
        local_timeout_ms: request.localTimeoutMs ?? 0,
        metadata: request.metadata ?? {},
      });
      return new Promise<GoCallResult>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        peer.child.stdin.write(`${line}\n`);
      });
    },
    close: async () => {
      closing = true;
      peer.child.stdin.end();
      await endProcess(
        peer.exited,
        () => peer.child.kill("SIGKILL"),
        (info) => peer.describe(info),
      );
    },
  };
}

function parseBenchResult(text: string): GoBenchResult {
  const value = JSON.parse(text) as Partial<GoBenchResult>;
  for (const key of ["p50_us", "p99_us", "calls", "seconds", "mb_per_s"] as const) {
    if (typeof value[key] !== "number") throw new Error(`bench-client printed no ${key}: ${text}`);
  }
  return value as GoBenchResult;
}

/** Runs `go-peer bench-client` against a server on opts.socketPath and returns its result. */
export async function runGoBenchClient(opts: GoBenchOptions): Promise<GoBenchResult> {
  const binary = await buildGoPeer();
  const args = [
    "bench-client",
    "-socket",
    opts.socketPath,
    "-size",
    String(opts.size),
    "-concurrency",
    String(opts.concurrency),
    "-count",
    String(opts.count),
    "-warmup",
    String(opts.warmup),
  ];
  const timeoutMs = opts.timeoutMs ?? 120_000;
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"], timeout: timeoutMs, killSignal: "SIGKILL" });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.once("error", reject);
    child.once("close", (code, signal) => {
      if (code !== 0) {
        const how = describeExit({ code, signal });
        reject(new Error(`go-peer ${args.join(" ")} ${how} (limit ${timeoutMs} ms)\nstderr:\n${stderr}`));
        return;
      }
      try {
        resolve(parseBenchResult(stdout.trim()));
      } catch (err) {
        reject(err as Error);
      }
    });
  });
}
