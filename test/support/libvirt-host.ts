// The libvirt host the libvirt tests use: the system daemons (started here when they are not
// running, and stopped again by the last test process that needs them), the default
// network, a test storage pool and the test image's base volume (uploaded through our own
// client's stream, kept between runs and replaced when the image changes).
import { execFile, spawn } from "node:child_process";
import { createReadStream } from "node:fs";
import fs from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { promisify } from "node:util";
import { processAlive, withFileLock } from "../../podvm/file-lock.ts";
import { isNotFound, LibvirtClient, type StoragePoolRef, uuidString } from "../../providers/libvirt/rpc/index.ts";
import { buildPeerVmImage, type PeerVmImage } from "../libvirt-image/build-image.ts";

const run = promisify(execFile);
export const SYSTEM_URI = "qemu:///system";
export const SYSTEM_SOCKET = "/var/run/libvirt/libvirt-sock";
const VIRTLOGD_SOCKET = "/var/run/libvirt/virtlogd-sock";
export const TEST_POOL = "caa-test";
const TEST_POOL_DIR = "/var/lib/libvirt/images/caa-test";
/** Another build's base volume unchanged for this long is no run's any more. */
const STALE_BASE_VOLUME_MS = 6 * 3600_000;
/** Kernels and initrds the emulator boots; it runs as another user (libvirt-qemu), who may
 * not enter the checkout (a clone in a 0700 folder). */
const BOOT_DIR = "/var/lib/libvirt/boot";
const BOOT_PREFIX = "caa-test-";
export const TEST_NETWORK = "default";
const STATE_DIR = "/run/caa-libvirt-tests";

interface Started {
  pids: number[];
  network: boolean;
}

/** Starts virtlogd and libvirtd when needed; each test process calls release() at the end. */
export async function acquireLibvirtDaemons(): Promise<{ release(): Promise<void> }> {
  await withPrepareLock(startDaemonsLocked);
  return {
    release: () => withPrepareLock(releaseLocked),
  };
}

async function startDaemonsLocked(): Promise<void> {
  await fs.mkdir(path.join(STATE_DIR, "users"), { recursive: true });
  await fs.writeFile(path.join(STATE_DIR, "users", String(process.pid)), "");
  const started: Started = await readStarted();
  if (!(await connectable(VIRTLOGD_SOCKET)))
    started.pids.push(await startDaemon("virtlogd", "/var/run/virtlogd.pid", VIRTLOGD_SOCKET));
  if (!(await connectable(SYSTEM_SOCKET)))
    started.pids.push(await startDaemon("libvirtd", "/var/run/libvirtd.pid", SYSTEM_SOCKET));
  const client = await LibvirtClient.connect(SYSTEM_URI);
  try {
    const netRef = await client.lookupNetworkByName(TEST_NETWORK);
    if (!(await client.isNetworkActive(netRef))) {
      await client.startNetwork(netRef);
      started.network = true;
    }
  } finally {
    await client.close();
  }
  await fs.writeFile(path.join(STATE_DIR, "started.json"), JSON.stringify(started));
}

/** The last user stops what the tests started: the network, libvirtd, then virtlogd. */
async function releaseLocked(): Promise<void> {
  await fs.rm(path.join(STATE_DIR, "users", String(process.pid)), { force: true });
  const users = await liveUsers();
  if (users.length > 0) return;
  const s = await readStarted();
  if (s.network) await run("virsh", ["-c", SYSTEM_URI, "net-destroy", TEST_NETWORK]).catch(() => {});
  for (const pid of [...s.pids].reverse()) {
    try {
      process.kill(pid, "SIGTERM");
      for (let i = 0; i < 100 && processAlive(pid); i++) await new Promise((r) => setTimeout(r, 50));
    } catch {
      // already gone
    }
  }
  await fs.rm(path.join(STATE_DIR, "started.json"), { force: true });
}

async function readStarted(): Promise<Started> {
  try {
    return JSON.parse(await fs.readFile(path.join(STATE_DIR, "started.json"), "utf8")) as Started;
  } catch {
    return { pids: [], network: false };
  }
}

async function liveUsers(): Promise<number[]> {
  const out: number[] = [];
  for (const name of await fs.readdir(path.join(STATE_DIR, "users")).catch(() => [] as string[])) {
    const pid = Number(name);
    if (processAlive(pid)) out.push(pid);
    else await fs.rm(path.join(STATE_DIR, "users", name), { force: true });
  }
  return out;
}

function connectable(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createConnection({ path: socketPath });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

async function startDaemon(program: string, pidFile: string, socketPath: string): Promise<number> {
  const child = spawn(program, ["-d"], { stdio: "ignore" });
  await new Promise<void>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${program} -d exited with ${code}`))));
  });
  for (let i = 0; i < 300; i++) {
    if (await connectable(socketPath)) return Number((await fs.readFile(pidFile, "utf8")).trim());
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${program} did not open ${socketPath} within 30s`);
}

/** The test pool (a directory pool), defined and started when missing. */
export function ensureTestPool(client: LibvirtClient): Promise<StoragePoolRef> {
  return withPrepareLock(() => ensurePoolLocked(client));
}

async function ensurePoolLocked(client: LibvirtClient): Promise<StoragePoolRef> {
  try {
    const pool = await client.lookupStoragePoolByName(TEST_POOL);
    if (!(await client.isStoragePoolActive(pool))) await run("virsh", ["-c", SYSTEM_URI, "pool-start", TEST_POOL]);
    return pool;
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  await fs.mkdir(TEST_POOL_DIR, { recursive: true });
  await run("virsh", ["-c", SYSTEM_URI, "pool-define-as", TEST_POOL, "dir", "--target", TEST_POOL_DIR]);
  await run("virsh", ["-c", SYSTEM_URI, "pool-start", TEST_POOL]);
  return client.lookupStoragePoolByName(TEST_POOL);
}

export interface PeerVmHost {
  readonly image: PeerVmImage;
  readonly baseVolume: string;
  /** The libvirt provider's settings for the test image (emulation, small VMs). */
  env(extra?: Record<string, string>): Record<string, string>;
}

/** The system daemons, a client of them and the prepared peer VM host: what a libvirt test file stands on. */
export interface LibvirtTestHost {
  readonly client: LibvirtClient;
  readonly host: PeerVmHost;
  /** Closes the client and releases the daemons. */
  release(): Promise<void>;
}

export async function openLibvirtTestHost(): Promise<LibvirtTestHost> {
  const daemons = await acquireLibvirtDaemons();
  let client: LibvirtClient | undefined;
  try {
    client = await LibvirtClient.connect(SYSTEM_URI);
    const opened = client;
    const host = await preparePeerVmHost(opened);
    return {
      client: opened,
      host,
      async release() {
        await opened.close();
        await daemons.release();
      },
    };
  } catch (err) {
    await client?.close();
    await daemons.release();
    throw err;
  }
}

/** Builds (or reuses) the test image and uploads it as the pool's base volume; one test
 * process at a time does so, the others then find both ready. */
export async function preparePeerVmHost(client: LibvirtClient): Promise<PeerVmHost> {
  return withPrepareLock(() => prepareLocked(client));
}

async function withPrepareLock<T>(fn: () => Promise<T>): Promise<T> {
  await fs.mkdir(STATE_DIR, { recursive: true });
  // 6000 tries 100 ms apart: a living holder may keep it 10 minutes.
  return withFileLock(path.join(STATE_DIR, "prepare.lock"), { pollMs: 100, maxTries: 6000 }, fn);
}

async function prepareLocked(client: LibvirtClient): Promise<PeerVmHost> {
  const image = await buildPeerVmImage({ log: (l) => process.stderr.write(`${l}\n`) });
  const pool = await ensurePoolLocked(client);
  const baseVolume = `podvm-test-${image.hash}.qcow2`;
  const vols = await client.listAllVolumes(pool);
  // Base volumes of other image builds go once stale: a test or bench of another worktree (other
  // sources, another hash) may be booting VMs from its own right now, and deleting it fails
  // that run ("no volume of that name").
  for (const v of vols) {
    if (!v.name.startsWith("podvm-test-") || v.name === baseVolume) continue;
    const changed = await fs.stat(path.join(TEST_POOL_DIR, v.name)).then(
      (st) => st.mtimeMs,
      () => 0,
    );
    if (Date.now() - changed > STALE_BASE_VOLUME_MS) await client.deleteStorageVol(v, 0).catch(() => {});
  }
  if (!vols.some((v) => v.name === baseVolume)) {
    const { stdout } = await run("qemu-img", ["info", "--output=json", image.rootfs]);
    const virtualSize = (JSON.parse(stdout) as { "virtual-size": number })["virtual-size"];
    const vol = await client.createStorageVolXml(
      pool,
      `<volume><name>${baseVolume}</name><capacity unit='bytes'>${virtualSize}</capacity><target><format type='qcow2'/></target></volume>`,
    );
    const size = (await fs.stat(image.rootfs)).size;
    await client.uploadStorageVol(vol, createReadStream(image.rootfs, { highWaterMark: 1024 * 1024 }), {
      length: BigInt(size),
    });
  }
  const boot = await publishBootFiles(image);
  return {
    image,
    baseVolume,
    env: (extra = {}) => ({
      LIBVIRT_URI: SYSTEM_URI,
      LIBVIRT_POOL: TEST_POOL,
      LIBVIRT_NET: TEST_NETWORK,
      LIBVIRT_VOL_NAME: baseVolume,
      LIBVIRT_DOMAIN_TYPE: "qemu",
      LIBVIRT_CPU: "2",
      LIBVIRT_MEMORY: "768",
      LIBVIRT_KERNEL: boot.kernel,
      LIBVIRT_INITRD: boot.initrd,
      LIBVIRT_CMDLINE: "console=ttyS0 quiet",
      // Emulated guests on a busy CI machine can take long to act on the power button.
      LIBVIRT_SHUTDOWN_GRACE: "30s",
      ...extra,
    }),
  };
}

/** Copies the image's kernel and initrd where the emulator's user can read them, once per
 * image; folders of other images idle for an hour go (other checkouts may still boot theirs). */
async function publishBootFiles(image: PeerVmImage): Promise<{ kernel: string; initrd: string }> {
  const dir = path.join(BOOT_DIR, `${BOOT_PREFIX}${image.hash}`);
  const boot = { kernel: path.join(dir, "vmlinuz"), initrd: path.join(dir, "initrd.img") };
  await fs.mkdir(BOOT_DIR, { recursive: true });
  try {
    await fs.access(path.join(dir, "done"));
  } catch {
    const staging = `${dir}.tmp-${process.pid}`;
    try {
      await fs.mkdir(staging, { recursive: true, mode: 0o755 });
      await fs.copyFile(image.kernel, path.join(staging, "vmlinuz"));
      await fs.copyFile(image.initrd, path.join(staging, "initrd.img"));
      for (const f of ["vmlinuz", "initrd.img"]) await fs.chmod(path.join(staging, f), 0o644);
      await fs.writeFile(path.join(staging, "done"), "");
      await fs.rm(dir, { recursive: true, force: true });
      await fs.rename(staging, dir);
    } finally {
      await fs.rm(staging, { recursive: true, force: true });
    }
  }
  const now = new Date();
  await fs.utimes(dir, now, now);
  for (const other of await fs.readdir(BOOT_DIR)) {
    if (!other.startsWith(BOOT_PREFIX) || other === path.basename(dir)) continue;
    const st = await fs.stat(path.join(BOOT_DIR, other)).catch(() => undefined);
    if (st !== undefined && now.getTime() - st.mtimeMs > 3_600_000)
      await fs.rm(path.join(BOOT_DIR, other), { recursive: true, force: true });
  }
  return boot;
}

export interface Leftovers {
  domains: string[];
  volumes: string[];
  leases: string[];
}

/** Domains, volumes and DHCP leases whose names start with `prefix`, or with one of `macs`. */
export async function leftovers(
  client: LibvirtClient,
  prefix: string,
  macs: readonly string[] = [],
): Promise<Leftovers> {
  const domains = (await client.listAllDomains(0))
    .filter((d) => d.name.startsWith(prefix))
    .map((d) => `${d.name} ${uuidString(d.uuid)}`)
    .sort();
  const pool = await client.lookupStoragePoolByName(TEST_POOL);
  const volumes = (await client.listAllVolumes(pool))
    .filter((v) => v.name.startsWith(prefix))
    .map((v) => v.name)
    .sort();
  const network = await client.lookupNetworkByName(TEST_NETWORK);
  const wanted = new Set(macs.map((m) => m.toLowerCase()));
  const leases = (await client.getNetworkDhcpLeases(network))
    .filter((l) => (l.hostname ?? "").startsWith(prefix) || wanted.has((l.mac ?? "").toLowerCase()))
    .map((l) => `${l.hostname ?? "?"} ${l.mac} ${l.ipAddress}`)
    .sort();
  return { domains, volumes, leases };
}

const QEMU_LOG_DIR = "/var/log/libvirt/qemu";

/** Removes every domain and volume whose name starts with `prefix` (what a failed test left),
 * and the logs libvirt kept of those domains and their consoles. */
export async function removeAll(client: LibvirtClient, prefix: string): Promise<void> {
  for (const f of await fs.readdir(QEMU_LOG_DIR).catch(() => [] as string[])) {
    if (f.startsWith(prefix)) await fs.rm(path.join(QEMU_LOG_DIR, f), { force: true });
  }
  for (const d of await client.listAllDomains(0)) {
    if (!d.name.startsWith(prefix)) continue;
    await client.destroyDomain(d).catch(() => {});
    await client.undefineDomain(d).catch(() => {});
  }
  const pool = await client.lookupStoragePoolByName(TEST_POOL);
  for (const v of await client.listAllVolumes(pool))
    if (v.name.startsWith(prefix)) await client.deleteStorageVol(v).catch(() => {});
}
