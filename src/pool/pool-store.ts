import fs from "node:fs/promises";
import path from "node:path";
import { writeFileAtomic } from "../util/atomic-file.ts";
import { ensurePrivateDir } from "../util/private-dir.ts";
import type { PoolVmRecord } from "./pool-record.ts";
import { POOL_VM_NAME_PATTERN } from "./pool-vm-name.ts";

/** One JSON file per pool VM under `<stateDir>/pool`, 0600, written atomically. */
export class PoolStore {
  readonly dir: string;

  private constructor(dir: string) {
    this.dir = dir;
  }

  static async open(stateDir: string): Promise<PoolStore> {
    const dir = path.join(stateDir, "pool");
    await ensurePrivateDir(stateDir);
    await ensurePrivateDir(dir);
    await fs.chmod(dir, 0o700);
    return new PoolStore(dir);
  }

  private file(name: string): string {
    if (!POOL_VM_NAME_PATTERN.test(name)) throw new Error(`invalid pool VM name ${JSON.stringify(name)}`);
    return path.join(this.dir, `${name}.json`);
  }

  async put(record: PoolVmRecord): Promise<void> {
    await writeFileAtomic(this.file(record.name), `${JSON.stringify(record, null, 2)}\n`);
  }

  async delete(name: string): Promise<void> {
    await fs.rm(this.file(name), { force: true });
  }

  /** Every record; one that cannot be read is reported (and left for an operator). */
  async list(): Promise<{ records: PoolVmRecord[]; unreadable: { file: string; error: string }[] }> {
    const records: PoolVmRecord[] = [];
    const unreadable: { file: string; error: string }[] = [];
    for (const name of await fs.readdir(this.dir)) {
      if (!name.endsWith(".json") || name.startsWith(".")) continue;
      const file = path.join(this.dir, name);
      try {
        const r = JSON.parse(await fs.readFile(file, "utf8")) as PoolVmRecord;
        if (
          r.version !== 1 ||
          r.name !== name.slice(0, -5) ||
          !POOL_VM_NAME_PATTERN.test(r.name) ||
          typeof r.token !== "string" ||
          (r.state !== "booting" && r.state !== "ready")
        )
          throw new Error("unexpected content");
        records.push(r);
      } catch (err) {
        unreadable.push({ file, error: (err as Error).message });
      }
    }
    return { records, unreadable };
  }
}
