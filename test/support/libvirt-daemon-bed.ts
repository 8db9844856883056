// The set-up of a daemon test file on the libvirt provider: the system libvirtd (acquired for
// the file), a client of it, the host prepared for peer VMs, the daemon's folders; after each test
// the daemon still running stops, and after the file what a failed test may have left running is
// removed before the daemons are released and the folders go (no local VM left behind).
import { beforeAll } from "vitest";
import { LibvirtClient } from "../../providers/libvirt/rpc/index.ts";
import { useDaemonHooks } from "./daemon-hooks.ts";
import { type DaemonDirs, makeDaemonDirs, type RunningDaemon } from "./daemon-process.ts";
import { acquireLibvirtDaemons, SYSTEM_URI } from "./libvirt-host.ts";

export interface LibvirtDaemonBedOptions<H> {
  /** The prefix of the daemon's temp folder. */
  readonly dirsPrefix: string;
  /** Before libvirtd is acquired (an image to build). */
  readonly before?: () => Promise<void>;
  /** Prepares the host for the file's VMs (pool, network, base volume). */
  readonly prepare: (client: LibvirtClient) => Promise<H>;
  /** After the file: removes the domains and volumes a failed test may have left. */
  readonly removeLeft: (client: LibvirtClient) => Promise<void>;
  /** How long the set-up may take. */
  readonly setUpMs?: number;
}

export interface LibvirtDaemonBed<H> {
  readonly dirs: DaemonDirs;
  readonly client: LibvirtClient;
  readonly host: H;
  /** The test's daemon: the after-each hook stops it. */
  daemon: RunningDaemon | undefined;
}

/** Call once at the top of the test file; its fields are there once its beforeAll has run. */
export function useLibvirtDaemonBed<H>(o: LibvirtDaemonBedOptions<H>): LibvirtDaemonBed<H> {
  let dirs: DaemonDirs | undefined;
  let client: LibvirtClient | undefined;
  let daemons: { release(): Promise<void> } | undefined;
  // Its fields are filled in by beforeAll, before any test reads them.
  const bed = { daemon: undefined } as LibvirtDaemonBed<H>;
  beforeAll(async () => {
    await o.before?.();
    daemons = await acquireLibvirtDaemons();
    client = await LibvirtClient.connect(SYSTEM_URI);
    const host = await o.prepare(client);
    dirs = await makeDaemonDirs(o.dirsPrefix);
    Object.assign(bed, { dirs, client, host });
  }, o.setUpMs ?? 600_000);
  useDaemonHooks({
    dirs: () => dirs,
    daemon: () => bed.daemon,
    dirsPer: "file",
    afterFile: async () => {
      if (client) await o.removeLeft(client);
      await client?.close();
      await daemons?.release();
    },
  });
  return bed;
}
