// Writes a file so that readers (and a restart after a crash) see either the old content or the
// new, never a torn file, and so that a private key is never readable by others even briefly.

import { randomBytes } from "node:crypto";
import { open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  const directory = dirname(path);
  const temporary = join(directory, `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  // "wx": never follow or reuse an existing file; the mode applies from creation on.
  const handle = await open(temporary, "wx", mode);
  try {
    try {
      await handle.chmod(mode); // the umask may have narrowed it; make it exact
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
  // Make the rename itself durable.
  const dir = await open(directory, "r");
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
