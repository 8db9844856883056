// The after-hooks of a daemon test file: its daemon is stopped and its folders removed, with no
// local VM left behind, after each test or after the file. Accessors, because the file's tests
// and before-hooks make the daemon and folders later.
import { afterAll, afterEach, expect } from "vitest";
import { cleanupDaemonDirs, type DaemonDirs, type RunningDaemon } from "./daemon-process.ts";

export interface DaemonHookOptions {
  readonly dirs: () => DaemonDirs | undefined;
  readonly daemon: () => RunningDaemon | undefined;
  /** When the daemon still running is stopped (SIGTERM): after each test (default), or after the
   * file for one daemon its tests share. */
  readonly daemonPer?: "test" | "file";
  /** When the folders go: after each test (default; each test makes its own), or after the file. */
  readonly dirsPer?: "test" | "file";
  /** More to undo after each test, before the daemon stops. */
  readonly afterEachTest?: () => void | Promise<void>;
  /** More to close after the file, after the daemon stopped and before the folders go. */
  readonly afterFile?: () => Promise<void>;
  /** The local VMs the folders may hold at the end on purpose (default none). */
  readonly expectedLeft?: (dirs: DaemonDirs) => Promise<string[]>;
}

/** Call once at the top of the test file. */
export function useDaemonHooks(o: DaemonHookOptions): void {
  // Folders already removed: a test that makes none leaves the last test's in place.
  const removed = new WeakSet<DaemonDirs>();
  const stopDaemon = async () => {
    const daemon = o.daemon();
    if (daemon?.child.exitCode === null) await daemon.stop();
  };
  const removeDirs = async () => {
    const dirs = o.dirs();
    if (dirs === undefined || removed.has(dirs)) return;
    removed.add(dirs);
    const expected = (await o.expectedLeft?.(dirs)) ?? [];
    expect((await cleanupDaemonDirs(dirs)).sort()).toEqual(expected);
  };
  afterEach(async () => {
    await o.afterEachTest?.();
    if ((o.daemonPer ?? "test") === "test") await stopDaemon();
    if ((o.dirsPer ?? "test") === "test") await removeDirs();
  });
  afterAll(async () => {
    await stopDaemon();
    await o.afterFile?.();
    await removeDirs();
  });
}
