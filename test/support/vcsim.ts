// govmomi's vCenter simulator for the vSphere provider's tests: builds test/vcsim against
// Debian's packaged govmomi sources (GOPATH mode, no module download), starts it on loopback,
// and stands in for VMware Tools by giving powered-on clones the address of a local provider VM
// booted from the clone's own user-data, so forwarder and agent really answer there.
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import type { LocalProvider } from "../../providers/local/provider.ts";
import { OWNERSHIP_KEYS } from "../../providers/provider.ts";
import {
  isFault,
  type MoRef,
  readOptionValues,
  readString,
  reconfigVm,
  retrieveProperties,
  VimClient,
  waitForTask,
} from "../../providers/vsphere/vim/index.ts";
import { goBuild, goProgram, isBuilt, mtime } from "./gopath-build.ts";
import { localVmBacking } from "./local-vm-backing.ts";

const VCSIM = goProgram(
  "vcsim",
  { file: "github.com/vmware/govmomi/simulator/model.go", what: "govmomi's simulator sources" },
  "golang-github-vmware-govmomi-dev",
);
export const VCSIM_BINARY = VCSIM.binary;
const BUILD_LOCK = `${VCSIM_BINARY}.lock`;
/** A cold build compiles govmomi (half a minute on two cores); later ones hit the cache. */
const STALE_LOCK_MS = 300_000;

/**
 * Builds test/vcsim into .cache/vcsim/vcsim unless it is newer than its sources. Test files
 * running in parallel take turns through a lock file, so govmomi is compiled once; the binary
 * is renamed into place, so nobody runs a half-written one.
 */
export async function buildVcsim(): Promise<string> {
  await fs.mkdir(path.dirname(VCSIM_BINARY), { recursive: true });
  for (;;) {
    if (await isBuilt(VCSIM)) return VCSIM_BINARY;
    let lock: fs.FileHandle;
    try {
      lock = await fs.open(BUILD_LOCK, "wx");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const since = await mtime(BUILD_LOCK);
      if (since !== undefined && Date.now() - since > STALE_LOCK_MS) await fs.rm(BUILD_LOCK, { force: true });
      await sleep(250);
      continue;
    }
    const temp = `${VCSIM_BINARY}.${process.pid}.${randomUUID()}.tmp`;
    try {
      if (await isBuilt(VCSIM)) return VCSIM_BINARY;
      await goBuild(VCSIM, temp);
      await fs.rename(temp, VCSIM_BINARY);
      return VCSIM_BINARY;
    } finally {
      await fs.rm(temp, { force: true });
      await lock.close();
      await fs.rm(BUILD_LOCK, { force: true });
    }
  }
}

export interface VcsimOptions {
  readonly clusters?: number;
  readonly clusterHosts?: number;
  /** Standalone hosts beside the clusters. */
  readonly hosts?: number;
  readonly datastores?: number;
  /** Name of the template (default podvm-template). */
  readonly template?: string;
  /** A VM folder to create in DC0. */
  readonly vmFolder?: string;
  /** Milliseconds the server waits before serving these methods (e.g. CloneVM_Task). */
  readonly methodDelays?: Readonly<Record<string, number>>;
  readonly username?: string;
  readonly password?: string;
}

export interface Vcsim {
  /** The SDK endpoint, https://127.0.0.1:<port>/sdk. */
  readonly url: string;
  /** SHA-1 thumbprint of the server certificate, colon-separated. */
  readonly thumbprint: string;
  readonly username: string;
  readonly password: string;
  readonly pid: number;
  /** Ends the simulator and waits for it. */
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 15_000;

function args(o: VcsimOptions, username: string, password: string): string[] {
  const out = ["-watch-stdin", "-username", username, "-password", password];
  if (o.clusters !== undefined) out.push("-clusters", String(o.clusters));
  if (o.clusterHosts !== undefined) out.push("-cluster-hosts", String(o.clusterHosts));
  if (o.hosts !== undefined) out.push("-hosts", String(o.hosts));
  if (o.datastores !== undefined) out.push("-datastores", String(o.datastores));
  if (o.template !== undefined) out.push("-template", o.template);
  if (o.vmFolder !== undefined) out.push("-vm-folder", o.vmFolder);
  const delays = Object.entries(o.methodDelays ?? {}).map(([m, ms]) => `${m}=${ms}`);
  if (delays.length > 0) out.push("-method-delay", delays.join(","));
  return out;
}

function stopChild(child: ChildProcessWithoutNullStreams, exited: Promise<unknown>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  child.stdin.end(); // -watch-stdin: the simulator removes its datastore folders and exits
  const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
  return exited.then(() => clearTimeout(timer));
}

/** Builds (if needed) and starts a simulator; resolves once it prints READY. */
export async function startVcsim(options: VcsimOptions = {}): Promise<Vcsim> {
  const binary = await buildVcsim();
  const username = options.username ?? "peerpods@vsphere.local";
  const password = options.password ?? `pw-${randomUUID()}`;
  const child = spawn(binary, args(options, username, password), { stdio: ["pipe", "pipe", "pipe"] });
  child.stdin.on("error", () => {}); // EPIPE after exit is reported through `exited`
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-16_384);
  });
  const exited = new Promise<void>((resolve) => child.once("close", () => resolve()));
  const facts = new Map<string, string>();
  const lines = createInterface({ input: child.stdout, crlfDelay: Infinity });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no READY within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
      child.once("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`exited before READY (${child.signalCode ?? `code ${child.exitCode}`})`));
      });
      lines.on("line", (line) => {
        if (line === "READY") {
          clearTimeout(timer);
          resolve();
          return;
        }
        const space = line.indexOf(" ");
        if (space > 0) facts.set(line.slice(0, space), line.slice(space + 1));
      });
    });
  } catch (err) {
    child.kill("SIGKILL");
    await exited;
    throw new Error(`vcsim did not start: ${(err as Error).message}\nstderr:\n${stderr}`, { cause: err });
  }
  const url = facts.get("URL");
  const thumbprint = facts.get("THUMBPRINT");
  if (url === undefined || thumbprint === undefined) {
    await stopChild(child, exited);
    throw new Error(`vcsim printed no URL or THUMBPRINT before READY`);
  }
  return { url, thumbprint, username, password, pid: child.pid ?? 0, stop: () => stopChild(child, exited) };
}

/** The properties `paths` of every VM in every folder of every datacenter. */
async function everyVm(client: VimClient, paths: string[], signal: AbortSignal) {
  const sc = await client.serviceContent(signal);
  return retrieveProperties(
    client,
    [{ type: "VirtualMachine", pathSet: paths }],
    [
      {
        obj: sc.rootFolder,
        skip: true,
        selectSet: [
          { name: "folders", type: "Folder", path: "childEntity", selectSet: ["folders", "datacenterVms"] },
          { name: "datacenterVms", type: "Datacenter", path: "vmFolder", selectSet: ["folders"] },
        ],
      },
    ],
    signal,
  );
}

/** Sets the address the simulator reports as the VM's guest.ipAddress. */
export async function setGuestAddress(
  client: VimClient,
  vm: MoRef,
  address: string,
  signal: AbortSignal,
): Promise<void> {
  const task = await reconfigVm(client, vm, { extraConfig: [{ key: "SET.guest.ipAddress", value: address }] }, signal);
  await waitForTask(client, task, "ReconfigVM_Task", signal);
}

export interface LocalGuests {
  /** The local provider backing the guests, to look at its VMs. */
  readonly local: LocalProvider;
  /** Names of vSphere VMs given an address so far. */
  readonly booted: ReadonlySet<string>;
  /** Stops watching and deletes every local VM started. */
  stop(): Promise<void>;
}

/**
 * Watches the simulator and, for each powered-on VM carrying our guestinfo user-data and no
 * address, boots a local provider VM from that user-data and sets its address as the VM's
 * guest.ipAddress; a local VM whose vSphere VM is gone or powered off is deleted again.
 */
export function startLocalGuests(client: VimClient, vmsDir: string, logger: Logger, pollMs = 100): LocalGuests {
  const backing = localVmBacking(vmsDir, vmsDir, logger);
  const booted = new Set<string>();
  const controller = new AbortController();
  const round = async (signal: AbortSignal): Promise<void> => {
    const paths = ["name", "runtime.powerState", "guest.ipAddress", "config.extraConfig"];
    const vms = await everyVm(client, paths, signal);
    const live = new Set<string>();
    for (const vm of vms) {
      const name = readString(vm.props.get("name")) ?? "";
      const extra = readOptionValues(vm.props.get("config.extraConfig"));
      const userData = extra.get("guestinfo.userdata");
      if (userData === undefined || readString(vm.props.get("runtime.powerState")) !== "poweredOn") continue;
      live.add(name);
      if (readString(vm.props.get("guest.ipAddress")) !== undefined || booted.has(name)) continue;
      const decoded =
        extra.get("guestinfo.userdata.encoding") === "base64"
          ? Buffer.from(userData, "base64").toString("utf8")
          : userData;
      const owner = {
        sandboxId: extra.get(OWNERSHIP_KEYS.sandboxId) ?? "",
        node: extra.get(OWNERSHIP_KEYS.node) ?? "",
        cluster: extra.get(OWNERSHIP_KEYS.cluster) ?? "",
      };
      const address = await backing.boot({ name, token: vm.obj.value, owner, userData: decoded }, signal);
      booted.add(name);
      try {
        await setGuestAddress(client, vm.obj, address, signal);
      } catch (err) {
        if (!isFault(err, "ManagedObjectNotFound")) throw err; // destroyed meanwhile
      }
    }
    for (const name of booted) {
      if (live.has(name)) continue;
      await backing.remove(name);
      booted.delete(name);
    }
  };
  const loop = (async () => {
    await backing.local.check();
    while (!controller.signal.aborted) {
      await round(controller.signal);
      await sleep(pollMs, undefined, { signal: controller.signal }).catch(() => undefined);
    }
  })().catch((err: unknown) => {
    if (!controller.signal.aborted) throw err;
  });
  // An error in the loop must fail the test that stops it, not vanish.
  let failure: unknown;
  loop.catch((err: unknown) => (failure = err));
  return {
    local: backing.local,
    booted,
    async stop() {
      controller.abort();
      await loop.catch(() => undefined);
      for (const name of [...booted]) {
        await backing.remove(name);
        booted.delete(name);
      }
      if (failure !== undefined) throw failure;
    },
  };
}

/** The provider's environment for a simulator, certificate pinned; `extra` adds or unsets. */
export function vsphereEnv(
  sim: Vcsim,
  extra: Readonly<Record<string, string | undefined>> = {},
): Record<string, string | undefined> {
  return {
    GOVC_URL: sim.url,
    GOVC_USERNAME: sim.username,
    GOVC_PASSWORD: sim.password,
    GOVC_DATACENTER: "DC0",
    GOVC_THUMBPRINT: sim.thumbprint,
    ...extra,
  };
}

/** A client of the simulator for looking at (and meddling with) its inventory. */
export function simClient(sim: Vcsim): VimClient {
  return new VimClient({
    url: new URL(sim.url),
    username: sim.username,
    password: sim.password,
    trust: { mode: "pin", thumbprint: sim.thumbprint },
  });
}

/** Every VM carrying our ownership mark, anywhere in the inventory: name → create token. */
export async function peerVms(client: VimClient, signal: AbortSignal): Promise<Map<string, string | undefined>> {
  const found = await everyVm(client, ["name", "config.extraConfig"], signal);
  const out = new Map<string, string | undefined>();
  for (const vm of found) {
    const extra = readOptionValues(vm.props.get("config.extraConfig"));
    if (extra.has(OWNERSHIP_KEYS.sandboxId))
      out.set(readString(vm.props.get("name")) ?? "", extra.get("peerpods.create-token"));
  }
  return out;
}
