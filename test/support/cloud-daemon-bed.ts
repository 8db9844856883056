// The set-up of a daemon test file on a cloud provider: the daemon's folders and the local cloud
// endpoint (a fake speaking the cloud's wire format, whose VMs are local VMs) shared by the file's
// tests, the endpoint's CA in a file for NODE_EXTRA_CA_CERTS when it speaks HTTPS. Each test
// starts its own daemon: after each test the fake forgets its injected faults and that daemon
// stops; after the file the fake closes and the folders go, with no local VM left behind.
import fs from "node:fs/promises";
import path from "node:path";
import { beforeAll } from "vitest";
import { useDaemonHooks } from "./daemon-hooks.ts";
import { type DaemonDirs, makeDaemonDirs, type RunningDaemon } from "./daemon-process.ts";

export interface CloudFake {
  clearFaults(): void;
  close(): Promise<void>;
}

export interface CloudDaemonBedOptions<F extends CloudFake> {
  /** The prefix of the daemon's temp folder. */
  readonly dirsPrefix: string;
  /** Starts the fake; its VMs' folders go under `root` (the daemon's temp folder). */
  readonly startFake: (root: string) => Promise<F>;
  /** The file name of the fake's CA (`caPem`) under the temp folder, for an HTTPS fake. */
  readonly caFileName?: string;
  /** More of the fake's state to reset after each test. */
  readonly afterEachTest?: (fake: F) => void;
}

export interface CloudDaemonBed<F> {
  readonly dirs: DaemonDirs;
  readonly fake: F;
  /** The fake's CA file (only with `caFileName`). */
  readonly caFile: string;
  /** The test's daemon: the after-each hook stops it. */
  daemon: RunningDaemon | undefined;
}

/** Call once at the top of the test file; its fields are there once its beforeAll has run. */
export function useCloudDaemonBed<F extends CloudFake & { readonly caPem?: string }>(
  o: CloudDaemonBedOptions<F>,
): CloudDaemonBed<F> {
  // Its fields are filled in by beforeAll, before any test reads them.
  const bed = { daemon: undefined } as CloudDaemonBed<F>;
  let dirs: DaemonDirs | undefined;
  let fake: F | undefined;
  beforeAll(async () => {
    dirs = await makeDaemonDirs(o.dirsPrefix);
    fake = await o.startFake(dirs.root);
    const caFile = o.caFileName === undefined ? "" : path.join(dirs.root, o.caFileName);
    if (o.caFileName !== undefined) await fs.writeFile(caFile, fake.caPem ?? "");
    Object.assign(bed, { dirs, fake, caFile });
  });
  useDaemonHooks({
    dirs: () => dirs,
    daemon: () => bed.daemon,
    dirsPer: "file",
    afterEachTest: () => {
      if (fake === undefined) return;
      fake.clearFaults();
      o.afterEachTest?.(fake);
    },
    afterFile: async () => {
      await fake?.close();
    },
  });
  return bed;
}
