// Writes the files of the user-data's write_files. Only below /run/peerpod: the daemon writes
// nothing else, and a user-data that names another path is refused, not obeyed.
import fs from "node:fs/promises";
import path from "node:path";
import type { CloudConfigFile } from "../userdata/index.ts";

export const PROVISION_DIR = "/run/peerpod";

/** Writes each file atomically (temporary file, then rename) with its mode; `root` prefixes
 * every path (tests; "/" in the VM). Returns the paths written. */
export async function writeProvisionedFiles(files: readonly CloudConfigFile[], root = "/"): Promise<string[]> {
  for (const f of files) {
    const normal = path.posix.normalize(f.path);
    if (!normal.startsWith(`${PROVISION_DIR}/`) || normal !== f.path)
      throw new Error(`user-data writes ${JSON.stringify(f.path)}: only files below ${PROVISION_DIR}/ are accepted`);
    if (!/^0?[0-7]{3}$/.test(f.permissions))
      throw new Error(
        `user-data gives ${f.path} permissions ${JSON.stringify(f.permissions)}: expected an octal mode like 0600`,
      );
  }
  const written: string[] = [];
  for (const f of files)
    written.push(await writeFileAtomic(path.join(root, f.path), f.content, parseInt(f.permissions, 8)));
  return written;
}

export async function writeFileAtomic(file: string, content: string | Buffer, mode: number): Promise<string> {
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp-${process.pid}`;
  await fs.writeFile(tmp, content, { mode });
  await fs.chmod(tmp, mode);
  await fs.rename(tmp, file);
  return file;
}
