import fs from "node:fs/promises";
import path from "node:path";
import { writeFileAtomic } from "../../src/util/atomic-file.ts";
import type { Ownership } from "../provider.ts";

/** What the local provider keeps about one "VM" in its folder (`vm.json`). */
export interface LocalVmRecord {
  readonly name: string;
  readonly token: string;
  readonly owner: Ownership;
  readonly address: string;
  /** Network namespace the VM runs in (root mode); undefined on loopback. */
  readonly netns: string | undefined;
  /** Host end of the VM's veth (root mode). */
  readonly hostVeth: string | undefined;
  /** Process group of the VM (its leader's pid); undefined until spawned. */
  readonly pgid: number | undefined;
  readonly createdAt: string;
}

export const VM_RECORD_FILE = "vm.json";
export const USER_DATA_FILE = "user-data";

export async function readVmRecord(dir: string): Promise<LocalVmRecord | undefined> {
  try {
    return JSON.parse(await fs.readFile(path.join(dir, VM_RECORD_FILE), "utf8")) as LocalVmRecord;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new Error(`local VM record ${dir}: ${(err as Error).message}`);
  }
}

export async function writeVmRecord(dir: string, record: LocalVmRecord): Promise<void> {
  await writeFileAtomic(path.join(dir, VM_RECORD_FILE), `${JSON.stringify(record, null, 2)}\n`);
}
