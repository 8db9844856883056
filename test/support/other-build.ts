// Another build of the control plane, for upgrade tests: a copy of this checkout's sources in a
// folder of its own (sharing node_modules through a link), changed so that it can be told apart
// from the running one: it introduces itself to the relay with `mark` in its name. The relay
// and the shims must not notice anything else.
import fs from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const HELLO_NAME = "controlPlane: `cloud-api-adaptor ";

/** Copies the daemon's sources under `dir` and returns the entry file to start it from. */
export async function makeOtherBuild(dir: string, mark: string): Promise<string> {
  await fs.mkdir(dir, { recursive: true });
  for (const part of ["src", "providers", "bin", "package.json"])
    await fs.cp(path.join(ROOT, part), path.join(dir, part), { recursive: true });
  await fs.symlink(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"), "dir");
  const daemonFile = path.join(dir, "src", "cli", "daemon.ts");
  const text = await fs.readFile(daemonFile, "utf8");
  if (!text.includes(HELLO_NAME)) throw new Error(`${daemonFile} no longer holds ${JSON.stringify(HELLO_NAME)}`);
  await fs.writeFile(daemonFile, text.replace(HELLO_NAME, `${HELLO_NAME}${mark} `));
  return path.join(dir, "src", "cli", "cloud-api-adaptor.ts");
}
