// The vSphere provider's test bed for one test file: a simulator, an administrator's client,
// local VMs standing in for the clones' guests (so a clone's forwarder answers at the address it
// reports), and the providers the file makes; all of it stopped and removed after the file.
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pino, { type Logger } from "pino";
import { afterAll, beforeAll } from "vitest";
import { vsphereProviderConfig } from "../../providers/vsphere/config.ts";
import { VsphereProvider } from "../../providers/vsphere/provider.ts";
import type { VimClient } from "../../providers/vsphere/vim/index.ts";
import {
  type LocalGuests,
  simClient,
  startLocalGuests,
  startVcsim,
  type Vcsim,
  type VcsimOptions,
  vsphereEnv,
} from "./vcsim.ts";

export interface VsphereTestBed {
  readonly sim: Vcsim;
  readonly admin: VimClient;
  readonly guests: LocalGuests;
  /** A provider on the simulator with the file's settings and these on top, logging to `logger`
   * (default silent); closed after the file. */
  provider(env?: Record<string, string | undefined>, logger?: Logger): VsphereProvider;
  /** Stops the guests' stand-in: clones then never report an address, until restartGuests(). */
  stopGuests(): Promise<void>;
  restartGuests(): void;
}

export interface VsphereTestBedOptions {
  /** Prefix of the temporary folder holding the guests' local VMs. */
  readonly prefix: string;
  readonly vcsim?: VcsimOptions;
  /** Provider settings every provider of the file gets (GOVC_FOLDER, ...). */
  readonly env?: Record<string, string | undefined>;
}

/** Call once at the top of a test file; the bed is ready inside tests and later hooks. */
export function useVsphereTestBed(o: VsphereTestBedOptions): VsphereTestBed {
  const silent = pino({ level: "silent" });
  const providers: VsphereProvider[] = [];
  let sim: Vcsim | undefined;
  let admin: VimClient | undefined;
  let guests: LocalGuests | undefined;
  let vmsDir: string | undefined;
  const ready = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`vSphere test bed: ${what} is not started (used outside a test?)`);
    return value;
  };

  beforeAll(async () => {
    vmsDir = await fs.mkdtemp(path.join(os.tmpdir(), `${o.prefix}-`));
    sim = await startVcsim(o.vcsim);
    admin = simClient(sim);
    guests = startLocalGuests(admin, vmsDir, silent);
  });
  afterAll(async () => {
    for (const p of providers) await p.close();
    await guests?.stop();
    admin?.close();
    await sim?.stop();
    if (vmsDir !== undefined) await fs.rm(vmsDir, { recursive: true, force: true });
  });

  return {
    get sim() {
      return ready(sim, "the simulator");
    },
    get admin() {
      return ready(admin, "the simulator's client");
    },
    get guests() {
      return ready(guests, "the guests' stand-in");
    },
    provider(env = {}, logger = silent) {
      const p = new VsphereProvider(
        vsphereProviderConfig(vsphereEnv(ready(sim, "the simulator"), { ...o.env, ...env })),
        {
          logger,
          taskPollMs: 100,
          addressPollMs: 100,
        },
      );
      providers.push(p);
      return p;
    },
    stopGuests: () => ready(guests, "the guests' stand-in").stop(),
    restartGuests() {
      guests = startLocalGuests(ready(admin, "the simulator's client"), ready(vmsDir, "the guests' folder"), silent);
    },
  };
}
