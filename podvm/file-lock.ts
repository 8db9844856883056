// One holder at a time across processes, by a lock file holding the holder's pid: a lock whose
// holder died is taken over. Used by the image builds here and by the test hosts that share
// their caches.
import fs from "node:fs/promises";

export interface FileLockOptions {
  /** Time between two tries to take the lock. */
  readonly pollMs: number;
  /** Gives up after this many tries (a living holder kept it all along); unset waits on. */
  readonly maxTries?: number;
}

/** Runs `fn` holding `lock`; the lock is removed when it ends, however it ends. */
export async function withFileLock<T>(lock: string, options: FileLockOptions, fn: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      const fd = await fs.open(lock, "wx");
      await fd.writeFile(String(process.pid));
      await fd.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const holder = Number(await fs.readFile(lock, "utf8").catch(() => "0"));
      if (holder > 0 && !processAlive(holder)) await fs.rm(lock, { force: true });
      else if (options.maxTries !== undefined && i > options.maxTries)
        throw new Error(`${lock} held by process ${holder} for ${Math.round((i * options.pollMs) / 60_000)} minutes`);
      else await new Promise((r) => setTimeout(r, options.pollMs));
    }
  }
  try {
    return await fn();
  } finally {
    await fs.rm(lock, { force: true });
  }
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
