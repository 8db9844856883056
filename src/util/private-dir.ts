import fs from "node:fs/promises";
import path from "node:path";

/**
 * Makes `dir` (and missing parents) 0700, exactly, whatever the umask. A folder that already
 * exists keeps its mode: the operator may have pointed us at a folder of their choosing (even a
 * shared parent), whose mode is theirs to decide; what we keep inside it is private on its own.
 */
export async function ensurePrivateDir(dir: string): Promise<void> {
  const first = await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  if (first === undefined) return;
  // mkdir's mode passes through the umask: set it exactly on each folder made here.
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    await fs.chmod(d, 0o700);
    if (d === path.resolve(first) || d === path.dirname(d)) break;
  }
}
