// Per-test clean-up for tests that open sockets, folders and processes: whatever a test
// registers is undone after it, last first, even when it failed.
import fs from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterEach } from "vitest";

export interface TestScope {
  /** Runs `fn` after the current test. */
  defer(fn: () => Promise<unknown> | void): void;
  /** A fresh temporary folder, removed after the current test. */
  tempDir(): Promise<string>;
}

/** Call once at the top of a test file. */
export function useTestScope(prefix: string): TestScope {
  const cleanups: (() => Promise<unknown> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  const defer = (fn: () => Promise<unknown> | void) => void cleanups.push(fn);
  return {
    defer,
    async tempDir() {
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), `${prefix}-`));
      defer(() => fs.rm(dir, { recursive: true, force: true }));
      return dir;
    },
  };
}

/** A TCP port free on 127.0.0.1 at the time of asking. */
export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve, reject) => {
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}
