// A child process that prints READY on stdout when usable, then speaks in lines.
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { createInterface } from "node:readline";

export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly error?: Error;
}

export interface PeerProcess {
  readonly child: ChildProcessWithoutNullStreams;
  /** Settles once the process is gone and its stdout fully read. */
  readonly exited: Promise<ExitInfo>;
  /** The last part of what the process wrote on stderr, for error messages. */
  stderr(): string;
  /** Text for an error: what the process was, how it ended, its stderr. */
  describe(info?: ExitInfo): string;
}

const STDERR_KEEP = 16 * 1024;
const READY = "READY";

export function describeExit(info: ExitInfo): string {
  if (info.error) return `failed: ${info.error.message}`;
  return info.signal ? `killed by ${info.signal}` : `exited with code ${info.code}`;
}

/**
 * Spawns `binary args`, waits for its READY line, then hands every later stdout line to onLine.
 * If READY does not come within readyTimeoutMs, or something else comes first, the process is
 * killed and the returned promise rejects.
 */
export async function startPeerProcess(
  binary: string,
  args: readonly string[],
  onLine: (line: string) => void,
  readyTimeoutMs = 10_000,
): Promise<PeerProcess> {
  const child = spawn(binary, args, { stdio: ["pipe", "pipe", "pipe"] });
  let stderrTail = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderrTail = (stderrTail + chunk.toString()).slice(-STDERR_KEEP);
  });
  // A write to a dead process fails with EPIPE; its exit is reported through `exited`.
  child.stdin.on("error", () => {});

  const lines = createInterface({ input: child.stdout, crlfDelay: Infinity });
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once("error", (error) => resolve({ code: null, signal: null, error }));
    child.once("close", (code, signal) => resolve({ code, signal }));
  });
  const peer: PeerProcess = {
    child,
    exited,
    stderr: () => stderrTail,
    describe: (info) => {
      const how = info ? `, ${describeExit(info)}` : "";
      return `${[binary, ...args].join(" ")} (pid ${child.pid ?? "none"}${how})\nstderr:\n${stderrTail}`;
    },
  };

  let ready = false;
  const readyOrFailed = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${READY} within ${readyTimeoutMs} ms`)), readyTimeoutMs);
    lines.on("line", (line) => {
      if (ready) {
        onLine(line);
        return;
      }
      clearTimeout(timer);
      if (line === READY) {
        ready = true;
        resolve();
      } else {
        reject(new Error(`expected ${READY}, got ${JSON.stringify(line)}`));
      }
    });
    void exited.then((info) => {
      clearTimeout(timer);
      reject(new Error(`ended before ${READY}: ${describeExit(info)}`));
    });
  });

  try {
    await readyOrFailed;
  } catch (err) {
    child.kill("SIGKILL");
    const info = await exited;
    throw new Error(`${(err as Error).message}: ${peer.describe(info)}`, { cause: err });
  }
  return peer;
}
