import fs from "node:fs/promises";
import path from "node:path";
import { writeFileAtomic } from "../util/atomic-file.ts";
import { ensurePrivateDir } from "../util/private-dir.ts";
import { SANDBOX_ID_PATTERN, type SandboxRecord } from "./sandbox-record.ts";

/** One JSON file per sandbox under `<stateDir>/sandboxes`, 0600, written atomically. */
export class SandboxStore {
  readonly dir: string;

  private constructor(dir: string) {
    this.dir = dir;
  }

  static async open(stateDir: string): Promise<SandboxStore> {
    const dir = path.join(stateDir, "sandboxes");
    await ensurePrivateDir(stateDir);
    await ensurePrivateDir(dir);
    await fs.chmod(dir, 0o700); // ours, even when made by an older daemon
    return new SandboxStore(dir);
  }

  private file(id: string): string {
    if (!SANDBOX_ID_PATTERN.test(id)) throw new Error(`invalid sandbox id ${JSON.stringify(id)}`);
    return path.join(this.dir, `${id}.json`);
  }

  async put(record: SandboxRecord): Promise<void> {
    await writeFileAtomic(this.file(record.id), JSON.stringify(record, null, 2) + "\n");
  }

  async get(id: string): Promise<SandboxRecord | undefined> {
    try {
      return parse(await fs.readFile(this.file(id), "utf8"), id);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    }
  }

  async delete(id: string): Promise<void> {
    await fs.rm(this.file(id), { force: true });
  }

  /** Every record; a record that cannot be read is reported, not skipped silently. */
  async list(): Promise<{ records: SandboxRecord[]; unreadable: { file: string; error: string }[] }> {
    const records: SandboxRecord[] = [];
    const unreadable: { file: string; error: string }[] = [];
    for (const name of await fs.readdir(this.dir)) {
      if (!name.endsWith(".json") || name.startsWith(".")) continue;
      const file = path.join(this.dir, name);
      try {
        records.push(parse(await fs.readFile(file, "utf8"), name.slice(0, -5)));
      } catch (err) {
        unreadable.push({ file, error: (err as Error).message });
      }
    }
    return { records, unreadable };
  }
}

function parse(text: string, id: string): SandboxRecord {
  const r = JSON.parse(text) as SandboxRecord;
  if (r.version !== 1 || r.id !== id || typeof r.state !== "string") throw new Error(`sandbox record ${id}: unexpected content`);
  return r;
}
