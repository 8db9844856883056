import fsSync from "node:fs";
import fs from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { unixSocketPathProblem } from "../util/unix-socket-path.ts";

export interface UnixListenOptions {
  /** File mode of the socket; the default lets only its owner (root) connect. */
  mode?: number;
  /** Mode of parent directories created on the way. */
  dirMode?: number;
}

/**
 * Listens on a Unix socket path: creates missing parent directories, replaces a stale socket
 * file left by a dead process, refuses to steal a socket another live process serves, and
 * sets the socket's mode before any client can connect.
 */
export async function listenUnix(socketPath: string, options: UnixListenOptions = {}): Promise<net.Server> {
  const mode = options.mode ?? 0o600;
  const tooLong = unixSocketPathProblem(socketPath);
  if (tooLong !== undefined) throw new Error(`cannot listen on ${tooLong}`);
  await fs.mkdir(path.dirname(socketPath), { recursive: true, mode: options.dirMode ?? 0o755 });
  await removeStaleSocket(socketPath);
  const server = net.createServer();
  const listening = new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.once("listening", () => {
      server.off("error", reject);
      resolve();
    });
  });
  // The bind happens synchronously inside listen(): a tight umask for just that call makes the
  // file private from its first instant, not only after a chmod that a fast client could race.
  const previous = process.umask(0o777 & ~mode);
  try {
    server.listen(socketPath);
  } finally {
    process.umask(previous);
  }
  await listening;
  // Synchronous on purpose: an await here would let a client connect before the caller has
  // attached its connection handler, and that connection would never be served.
  fsSync.chmodSync(socketPath, mode);
  return server;
}

async function removeStaleSocket(socketPath: string): Promise<void> {
  let stat;
  try {
    stat = await fs.lstat(socketPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  if (!stat.isSocket()) throw new Error(`${socketPath} exists and is not a socket; refusing to replace it`);
  const alive = await new Promise<boolean>((resolve) => {
    const probe = net.connect(socketPath);
    probe.once("connect", () => {
      probe.destroy();
      resolve(true);
    });
    probe.once("error", () => resolve(false));
  });
  if (alive) throw new Error(`${socketPath} is served by another live process`);
  await fs.rm(socketPath, { force: true });
}
