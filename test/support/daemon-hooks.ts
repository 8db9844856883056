// The after-hooks of a daemon test file whose tests share a cloud fake and each start their own
// daemon: after each test the fake forgets its injected faults and a daemon the test left
// running is stopped; after the file the fake closes and the daemon's folders go, with no local
// VM left behind. Accessors, because the file's beforeAll makes the fake and folders later.
import { afterAll, afterEach, expect } from "vitest";
import { cleanupDaemonDirs, type DaemonDirs, type RunningDaemon } from "./daemon-process.ts";

export interface CloudDaemonHookOptions {
  readonly dirs: () => DaemonDirs | undefined;
  readonly fake: () => { clearFaults(): void; close(): Promise<void> } | undefined;
  readonly daemon: () => RunningDaemon | undefined;
  /** More of the fake's state to reset after each test. */
  readonly afterEachTest?: () => void;
}

/** Call once at the top of the test file. */
export function useCloudDaemonHooks(o: CloudDaemonHookOptions): void {
  afterEach(async () => {
    o.fake()?.clearFaults();
    o.afterEachTest?.();
    const daemon = o.daemon();
    if (daemon?.child.exitCode === null) await daemon.stop();
  });
  afterAll(async () => {
    await o.fake()?.close();
    const dirs = o.dirs();
    if (dirs) expect(await cleanupDaemonDirs(dirs)).toEqual([]);
  });
}
