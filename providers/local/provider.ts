import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Logger } from "pino";
import { writeFileAtomic } from "../../src/util/atomic-file.ts";
import {
  type CreateVmRequest,
  type Ownership,
  ownerText,
  type Provider,
  ProviderError,
  sameOwner,
  type VmInstance,
  type VmRef,
} from "../provider.ts";
import type { LocalProviderConfig } from "./config.ts";
import { LocalNetwork } from "./local-network.ts";
import { findVmGroups, stopVmGroups, verifiedGroup } from "./process-group.ts";
import { marksEnvValue, VM_MARKS_ENV, type VmMarks } from "./vm-marks.ts";
import { type LocalVmRecord, readVmRecord, USER_DATA_FILE, writeVmRecord } from "./vm-record.ts";

const LOOPBACK_SPAN = 1 << 22;
// The VM's main module beside this one, in this module's language: vm-main.ts in a checkout,
// vm-main.js where the sources are compiled (the container image).
const VM_MAIN = fileURLToPath(new URL("./vm-main.ts", import.meta.url)).replace(
  /\.ts$/,
  path.extname(fileURLToPath(import.meta.url)),
);

/**
 * The embedded provider for development and tests: a "VM" is a detached process group running
 * our forwarder and the minimal agent, fed the same user-data as a cloud VM. It outlives the
 * daemon, as a cloud VM would.
 */
export class LocalProvider implements Provider {
  readonly name = "local";
  private readonly config: LocalProviderConfig;
  private readonly network: LocalNetwork | undefined;
  private readonly logger: Logger;
  /** Addresses handed out whose VM record may not be on disk yet, by VM name. */
  private readonly reserved = new Map<string, string>();

  constructor(config: LocalProviderConfig, logger: Logger) {
    this.config = config;
    this.network = config.network === "netns" ? new LocalNetwork(config) : undefined;
    this.logger = logger;
  }

  async check(): Promise<void> {
    await fs.mkdir(this.config.vmsDir, { recursive: true, mode: 0o700 });
    await fs.access(VM_MAIN);
    if (this.network !== undefined) await this.network.ensureBridge();
  }

  async createVm(req: CreateVmRequest, signal: AbortSignal): Promise<VmInstance> {
    const dir = this.vmDir(req.name);
    const existing = await readVmRecord(dir);
    if (existing !== undefined && !sameOwner(existing.owner, req.owner)) {
      throw new ProviderError(
        `local VM ${req.name} already exists and belongs to ${ownerText(existing.owner)}; it is left alone`,
      );
    }
    if (existing !== undefined) {
      const own =
        existing.pgid === undefined
          ? undefined
          : await verifiedGroup(this.config.vmsDir, existing.pgid, (m) => m.name === req.name && m.token === req.token);
      if (existing.token === req.token && own !== undefined) return toInstance(existing); // a retried create finds the VM the first attempt made
      await this.destroy(dir, existing, req.owner);
    }
    signal.throwIfAborted();
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    let record: LocalVmRecord = {
      name: req.name,
      token: req.token,
      owner: req.owner,
      address: await this.allocateAddress(req.name),
      netns: undefined,
      hostVeth: undefined,
      pgid: undefined,
      createdAt: new Date().toISOString(),
    };
    await writeVmRecord(dir, record);
    try {
      await writeFileAtomic(path.join(dir, USER_DATA_FILE), req.userData);
      if (this.network !== undefined) {
        const net = await this.network.attach(req.name, record.address);
        record = { ...record, ...net };
        await writeVmRecord(dir, record);
      }
      signal.throwIfAborted();
      const pgid = await this.spawnVm(dir, record);
      record = { ...record, pgid };
      await writeVmRecord(dir, record);
      signal.throwIfAborted();
      return toInstance(record);
    } catch (err) {
      await this.destroy(dir, record, req.owner).catch((e: Error) =>
        this.logger.error({ vm: req.name, err: e.message }, "local VM rollback failed"),
      );
      throw err;
    }
  }

  async deleteVm(vm: VmRef, _signal?: AbortSignal): Promise<void> {
    const dir = this.vmDir(vm.name);
    const record = await readVmRecord(dir);
    if (record !== undefined && !sameOwner(record.owner, vm.owner)) {
      this.logger.warn(
        { vm: vm.name, owner: record.owner },
        "local VM of that name belongs to another owner; left alone",
      );
      return;
    }
    await this.destroy(dir, record ?? { name: vm.name, pgid: undefined }, vm.owner);
  }

  async listOwnedVms(owner: Omit<Ownership, "sandboxId">): Promise<VmInstance[]> {
    let names: string[];
    try {
      names = await fs.readdir(this.config.vmsDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      names = [];
    }
    const out: VmInstance[] = [];
    const ours = (o: Ownership) => o.node === owner.node && o.cluster === owner.cluster;
    for (const name of names) {
      const record = await readVmRecord(path.join(this.config.vmsDir, name));
      if (record === undefined || !ours(record.owner)) continue;
      out.push(toInstance(record));
    }
    // Running VMs without a record: a crash cut their folder short, or a rollback removed it.
    for (const g of await findVmGroups(this.config.vmsDir, (m) => ours(m.owner))) {
      if (out.some((v) => v.name === g.marks.name)) continue;
      out.push({
        id: String(g.pgid),
        name: g.marks.name,
        address: g.marks.address,
        owner: g.marks.owner,
        details: { network: "unrecorded" },
      });
    }
    return out;
  }

  async close(): Promise<void> {}

  private vmDir(name: string): string {
    if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(name))
      throw new Error(`local provider: invalid VM name ${JSON.stringify(name)}`);
    return path.join(this.config.vmsDir, name);
  }

  private async spawnVm(dir: string, record: LocalVmRecord): Promise<number> {
    const log = await fs.open(path.join(dir, "vm.log"), "a", 0o600);
    try {
      const node = process.execPath;
      const args = [
        VM_MAIN,
        "--dir",
        dir,
        "--address",
        record.address,
        ...(this.config.vmTlsDir === undefined ? [] : ["--tls-dir", this.config.vmTlsDir]),
      ];
      const [cmd, argv] =
        record.netns === undefined ? [node, args] : ["ip", ["netns", "exec", record.netns, node, ...args]];
      // detached: a new session and process group, so the VM outlives the daemon and is
      // stopped as one group.
      // The marks go with the process from its first instruction, before its id is recorded.
      const marks: VmMarks = {
        vmsDir: this.config.vmsDir,
        name: record.name,
        token: record.token,
        address: record.address,
        owner: record.owner,
      };
      const env = { ...process.env, [VM_MARKS_ENV]: marksEnvValue(marks) };
      const child = spawn(cmd, argv, { detached: true, stdio: ["ignore", log.fd, log.fd], cwd: dir, env });
      const pid = await new Promise<number>((resolve, reject) => {
        child.once("spawn", () => resolve(child.pid!));
        child.once("error", reject);
      });
      child.unref();
      return pid;
    } finally {
      await log.close();
    }
  }

  /** Stops the VM's processes, then removes its network and folder. The recorded process group
   * is signalled only while its marks say it is this VM; when it does not (never recorded, or
   * its id since reused), the VM's processes are looked up by their marks. */
  private async destroy(dir: string, vm: Pick<LocalVmRecord, "name" | "pgid">, owner: Ownership): Promise<void> {
    const { name } = vm;
    const mine = (m: VmMarks) => m.name === name && sameOwner(m.owner, owner);
    const recorded = vm.pgid === undefined ? undefined : await verifiedGroup(this.config.vmsDir, vm.pgid, mine);
    await stopVmGroups(recorded !== undefined ? [recorded] : await findVmGroups(this.config.vmsDir, mine));
    if (this.network !== undefined) await this.network.detach(name);
    await fs.rm(dir, { recursive: true, force: true });
    this.reserved.delete(name);
    if (this.network !== undefined) await this.network.removeBridgeIfUnused();
  }

  /** Picks an address no other VM folder holds. Loopback: 127.64/10; netns: the bridge /24. */
  private async allocateAddress(name: string): Promise<string> {
    const address = await this.pickAddress(name);
    this.reserved.set(name, address);
    return address;
  }

  private async pickAddress(name: string): Promise<string> {
    const used = new Set<string>();
    for (const vm of await fs.readdir(this.config.vmsDir).catch(() => [] as string[])) {
      if (vm === name) continue;
      const r = await readVmRecord(path.join(this.config.vmsDir, vm)).catch(() => undefined);
      if (r !== undefined) used.add(r.address);
    }
    // The directory scan above awaited: take the reservations made meanwhile too.
    for (const [other, a] of this.reserved) if (other !== name) used.add(a);
    if (this.network !== undefined) {
      for (let i = 2; i < 255; i++) {
        const a = `${this.config.subnetPrefix}.${i}`;
        if (!used.has(a)) return a;
      }
      throw new Error(`local provider: no free address left in ${this.config.subnetPrefix}.0/24`);
    }
    // Loopback: 127.64.0.0/10, starting at a point derived from the VM folder, so daemons that
    // share a machine (tests, several nodes on one host) rarely probe the same addresses.
    const start =
      createHash("sha256").update(path.join(this.config.vmsDir, name)).digest().readUInt32BE(0) % LOOPBACK_SPAN;
    for (let k = 0; k < LOOPBACK_SPAN; k++) {
      const i = (start + k) % LOOPBACK_SPAN;
      const a = `127.${64 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
      if ((i & 255) !== 0 && (i & 255) !== 255 && !used.has(a)) return a;
    }
    throw new Error("local provider: no free loopback address left");
  }
}

function toInstance(r: LocalVmRecord): VmInstance {
  return {
    id: r.pgid === undefined ? `pending-${r.name}` : String(r.pgid),
    name: r.name,
    address: r.address,
    owner: r.owner,
    details: { network: r.netns === undefined ? "loopback" : `netns ${r.netns}` },
  };
}
