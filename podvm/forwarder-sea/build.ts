// Builds the agent-protocol-forwarder single executable: esbuild bundles the forwarder (with
// the provisioner and the minimal agent, see entry.ts) and its npm packages into one CommonJS
// file, Node turns it into a SEA blob, and postject injects the blob into a copy of this Node
// binary. The result runs on any x86-64 Linux with glibc, without Node or node_modules.
//   node podvm/forwarder-sea/build.ts --out FILE [--bundle-only]
// --bundle-only writes FILE.cjs and prints its sha256 (the cached image build hashes it).
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs, promisify } from "node:util";
import { build } from "esbuild";

const run = promisify(execFile);
const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, "../..");
/** postject's marker in official Node builds: the blob is only looked for when it is flipped. */
const SEA_FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";

/** The bundle's text: deterministic for the same sources, so its hash names the executable. */
export async function bundleForwarder(): Promise<string> {
  const pkg = JSON.parse(await fs.readFile(path.join(REPO, "package.json"), "utf8")) as { version: string };
  const result = await build({
    entryPoints: [path.join(HERE, "entry.ts")],
    bundle: true,
    platform: "node",
    target: "node24",
    format: "cjs",
    write: false,
    minify: false,
    legalComments: "none",
    logLevel: "error",
    define: { "process.env.CAA_VERSION": JSON.stringify(pkg.version) },
    absWorkingDir: REPO,
  });
  const out = result.outputFiles[0];
  if (out === undefined) throw new Error("esbuild produced no output");
  return out.text;
}

/** Writes the SEA blob of the bundle into `work` (a fresh folder) and returns its path. */
export async function makeSeaBlob(work: string): Promise<string> {
  await fs.writeFile(path.join(work, "forwarder.cjs"), await bundleForwarder());
  // Paths relative to `work` (the working directory): the blob keeps the main script's path
  // as written here, and a temporary folder's random name would make every build differ.
  // No code cache or snapshot: both vary from build to build, and the image must not.
  await fs.writeFile(
    path.join(work, "sea-config.json"),
    JSON.stringify({
      main: "forwarder.cjs",
      output: "forwarder.blob",
      disableExperimentalSEAWarning: true,
      useCodeCache: false,
      useSnapshot: false,
    }),
  );
  await run(process.execPath, ["--experimental-sea-config", "sea-config.json"], { cwd: work });
  return path.join(work, "forwarder.blob");
}

export async function buildForwarderExecutable(outFile: string): Promise<void> {
  const work = await fs.mkdtemp(path.join(os.tmpdir(), "forwarder-sea-"));
  try {
    const blob = await makeSeaBlob(work);
    const exe = path.join(work, "agent-protocol-forwarder");
    await fs.copyFile(await fs.realpath(process.execPath), exe);
    await fs.chmod(exe, 0o755);
    const postject = path.join(REPO, "node_modules/postject/dist/cli.js");
    await run(process.execPath, [postject, exe, "NODE_SEA_BLOB", blob, "--sentinel-fuse", SEA_FUSE], {
      maxBuffer: 16 * 1024 * 1024,
    });
    await fs.mkdir(path.dirname(path.resolve(outFile)), { recursive: true });
    await fs.copyFile(exe, outFile);
    await fs.chmod(outFile, 0o755);
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { out: { type: "string" }, "bundle-only": { type: "boolean" } } });
  if (values.out === undefined) {
    process.stderr.write("usage: node podvm/forwarder-sea/build.ts --out FILE [--bundle-only]\n");
    process.exit(2);
  }
  if (values["bundle-only"]) {
    const text = await bundleForwarder();
    await fs.writeFile(`${values.out}.cjs`, text);
    process.stdout.write(`${createHash("sha256").update(text).digest("hex")}\n`);
  } else {
    await buildForwarderExecutable(values.out);
  }
}
