import fs from "node:fs/promises";
import path from "node:path";
import { writeFileAtomic } from "../util/atomic-file.ts";
import { ensurePrivateDir } from "../util/private-dir.ts";
import { validateSandboxRecord } from "./record-schema.ts";
import { SANDBOX_ID_PATTERN, type SandboxRecord } from "./sandbox-record.ts";

/** A record file the daemon does not act on; `id` is the sandbox its name claims, when valid. */
export interface UnreadableRecord {
  readonly id: string | undefined;
  readonly file: string;
  readonly error: string;
}

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
    await writeFileAtomic(this.file(record.id), `${JSON.stringify(record, null, 2)}\n`);
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

  /** Every record; one that cannot be read or fails validation is reported, not skipped
   * silently, and left in place for an operator. */
  async list(): Promise<{ records: SandboxRecord[]; unreadable: UnreadableRecord[] }> {
    const records: SandboxRecord[] = [];
    const unreadable: UnreadableRecord[] = [];
    for (const name of await fs.readdir(this.dir)) {
      if (!name.endsWith(".json") || name.startsWith(".")) continue;
      const file = path.join(this.dir, name);
      const id = name.slice(0, -5);
      try {
        records.push(parse(await fs.readFile(file, "utf8"), id));
      } catch (err) {
        unreadable.push({ id: SANDBOX_ID_PATTERN.test(id) ? id : undefined, file, error: (err as Error).message });
      }
    }
    return { records, unreadable };
  }
}

function parse(text: string, id: string): SandboxRecord {
  return validateSandboxRecord(JSON.parse(text) as unknown, id);
}
