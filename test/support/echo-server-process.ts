// Starts our Echo server (echo-server-entry.ts) in a child Node process and talks to it.
import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";

const ENTRY = fileURLToPath(new URL("./echo-server-entry.ts", import.meta.url));
const READY_TIMEOUT_MS = 10_000;
const EXIT_GRACE_MS = 5_000;

export type ParentMessage = { type: "stats" } | { type: "stop" };

export interface ServerStats {
  /** Resident set size now, in bytes. */
  rss: number;
  /** Heap in use after a collection (when the process was started with --expose-gc). */
  heapUsed: number;
  /** Memory held outside the heap (Buffers), after the same collection. */
  external: number;
  /** The largest resident set size the process ever had, in bytes. */
  maxRss: number;
  connections: number;
  /** Connections dropped for a protocol violation or an incomplete frame. */
  protocolErrors: number;
}

export type ChildMessage = { type: "ready" } | ({ type: "stats" } & ServerStats);

export interface EchoServerProcess {
  readonly pid: number;
  readonly socketPath: string;
  /** True while the process runs. */
  alive(): boolean;
  stats(): Promise<ServerStats>;
  /** Closes the server and waits for the process; rejects unless it exits with code 0. */
  stop(): Promise<void>;
}

export interface EchoServerProcessOptions {
  /** The server's frameTimeoutMs (default 30 s, the library default). */
  frameTimeoutMs?: number;
  /** Extra Node flags, e.g. for profiling. */
  execArgv?: string[];
}

/** Forks the server on socketPath and resolves once it listens. */
export async function startEchoServerProcess(
  socketPath: string,
  options: EchoServerProcessOptions = {},
): Promise<EchoServerProcess> {
  const child = fork(ENTRY, [socketPath, String(options.frameTimeoutMs ?? 30_000)], {
    execArgv: ["--expose-gc", ...(options.execArgv ?? [])],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("exit", (code, signal) => resolve({ code, signal }));
  });
  await waitReady(child, exited);

  let statsWaiters: ((s: ServerStats) => void)[] = [];
  child.on("message", (msg: ChildMessage) => {
    if (msg.type !== "stats") return;
    const { type: _type, ...stats } = msg;
    const waiters = statsWaiters;
    statsWaiters = [];
    for (const w of waiters) w(stats);
  });
  const alive = () => child.exitCode === null && child.signalCode === null;

  return {
    pid: child.pid ?? 0,
    socketPath,
    alive,
    stats: () =>
      new Promise<ServerStats>((resolve, reject) => {
        if (!alive()) {
          reject(new Error(`echo server process ${child.pid} has ended`));
          return;
        }
        const onExit = () => reject(new Error(`echo server process ${child.pid} ended before answering`));
        child.once("exit", onExit);
        statsWaiters.push((s) => {
          child.off("exit", onExit);
          resolve(s);
        });
        send(child, { type: "stats" });
      }),
    stop: async () => {
      if (alive()) send(child, { type: "stop" });
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<"late">((resolve) => {
        timer = setTimeout(() => resolve("late"), EXIT_GRACE_MS);
      });
      const outcome = await Promise.race([exited, late]);
      clearTimeout(timer);
      if (outcome === "late") {
        child.kill("SIGKILL");
        await exited;
        throw new Error(`echo server process ${child.pid} did not exit within ${EXIT_GRACE_MS} ms; killed`);
      }
      if (outcome.code !== 0)
        throw new Error(`echo server process ${child.pid} exited with ${outcome.signal ?? `code ${outcome.code}`}`);
    },
  };
}

function send(child: ChildProcess, msg: ParentMessage): void {
  child.send(msg);
}

function waitReady(
  child: ChildProcess,
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`echo server process sent no ready message within ${READY_TIMEOUT_MS} ms`));
    }, READY_TIMEOUT_MS);
    child.once("message", (msg: ChildMessage) => {
      clearTimeout(timer);
      if (msg.type === "ready") resolve();
      else reject(new Error(`echo server process said ${JSON.stringify(msg)} before ready`));
    });
    void exited.then((info) => {
      clearTimeout(timer);
      reject(new Error(`echo server process ended before ready (${info.signal ?? `code ${info.code}`})`));
    });
  });
}
