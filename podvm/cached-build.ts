// The peer-pod image (with the minimal agent) as tests and CI use it: built by podvm/build.sh
// once per set of inputs and kept under <repo>/.cache/podvm/<hash>/, like the test image.
// The hash covers the forwarder's bundle (so any source it includes), podvm/ itself and the
// apt sources the packages come from. Downloaded packages are kept in .cache/podvm-debs.
// PODVM_IMAGE_DIR names a folder of outputs built elsewhere (podvm/build.sh --kata-agent
// minimal) to use instead.
//   node podvm/cached-build.ts      prints the folder
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { withFileLock } from "./file-lock.ts";
import { bundleForwarder } from "./forwarder-sea/build.ts";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, "..");
const CACHE = path.join(REPO, ".cache", "podvm");
/** Fixed, so a commit that changes none of the inputs reuses the image. */
export const SOURCE_DATE_EPOCH = 1735689600;

export interface PodvmImage {
  readonly dir: string;
  readonly hash: string;
  readonly raw: string;
  readonly qcow2: string;
  readonly vhd: string;
  readonly ova: string;
  readonly manifest: string;
}

export async function podvmInputsHash(): Promise<string> {
  const h = createHash("sha256");
  h.update(await bundleForwarder());
  // What build.sh reads; this file and the tests do not change the image.
  for (const f of await listFiles(HERE)) {
    if (path.basename(f) === "cached-build.ts") continue;
    h.update(path.relative(HERE, f)).update(await fs.readFile(f));
  }
  for (const f of ["/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"])
    h.update(await fs.readFile(f).catch(() => Buffer.alloc(0)));
  h.update(String(SOURCE_DATE_EPOCH));
  return h.digest("hex").slice(0, 16);
}

export async function cachedPodvmImage(options: { log?: (line: string) => void } = {}): Promise<PodvmImage> {
  const log = options.log ?? (() => {});
  const given = process.env.PODVM_IMAGE_DIR;
  if (given !== undefined && given !== "") {
    const dir = path.resolve(given);
    if (!(await exists(path.join(dir, "podvm.json"))))
      throw new Error(`PODVM_IMAGE_DIR=${given}: no podvm.json there (expected the outputs of podvm/build.sh)`);
    log(`using the peer-pod image in ${dir} (PODVM_IMAGE_DIR)`);
    return imageIn(dir, "given");
  }
  const hash = await podvmInputsHash();
  const dir = path.join(CACHE, hash);
  const image = imageIn(dir, hash);
  await fs.mkdir(CACHE, { recursive: true });
  // One builder at a time across processes.
  return withFileLock(path.join(CACHE, "build.lock"), { pollMs: 500 }, async () => {
    if (await exists(path.join(dir, "done"))) return image;
    log(`building the peer-pod image in ${dir} (podvm/build.sh --kata-agent minimal)`);
    const staging = `${dir}.tmp-${process.pid}`;
    await fs.rm(staging, { recursive: true, force: true });
    try {
      const logFile = path.join(CACHE, `build-${hash}.log`);
      await buildInto(staging, logFile);
      await fs.writeFile(path.join(staging, "done"), new Date().toISOString());
      await fs.rename(staging, dir);
      // Images of earlier inputs are of no further use.
      for (const other of await fs.readdir(CACHE)) {
        if (other !== hash && /^[0-9a-f]{16}$/.test(other))
          await fs.rm(path.join(CACHE, other), { recursive: true, force: true });
      }
      log("peer-pod image built");
      return image;
    } finally {
      await fs.rm(staging, { recursive: true, force: true });
    }
  });
}

function imageIn(dir: string, hash: string): PodvmImage {
  return {
    dir,
    hash,
    raw: path.join(dir, "podvm.raw"),
    qcow2: path.join(dir, "podvm.qcow2"),
    vhd: path.join(dir, "podvm.vhd"),
    ova: path.join(dir, "podvm.ova"),
    manifest: path.join(dir, "podvm.json"),
  };
}

/** Runs podvm/build.sh (minimal agent) with the inputs the cache is keyed by: the same
 * SOURCE_DATE_EPOCH and package cache every time. */
export async function buildInto(out: string, logFile: string, formats = "qcow2,raw,vhd,ova"): Promise<void> {
  const logFd = await fs.open(logFile, "w");
  try {
    const args = [path.join(HERE, "build.sh"), "--out", out, "--kata-agent", "minimal", "--formats", formats];
    const child = spawn("bash", args, {
      stdio: ["ignore", logFd.fd, logFd.fd],
      env: {
        ...process.env,
        PODVM_APT_CACHE: path.join(REPO, ".cache", "podvm-debs"),
        SOURCE_DATE_EPOCH: String(SOURCE_DATE_EPOCH),
      },
    });
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once("error", reject);
      child.once("exit", resolve);
    });
    if (code !== 0) {
      const tail = (await fs.readFile(logFile, "utf8")).split("\n").slice(-30).join("\n");
      throw new Error(`podvm/build.sh failed (exit ${code}); log ${logFile}:\n${tail}`);
    }
  } finally {
    await logFd.close();
  }
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of (await fs.readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listFiles(p)));
    else if (e.isFile() && !e.name.endsWith(".test.ts")) out.push(p);
  }
  return out;
}

async function exists(p: string): Promise<boolean> {
  return fs.access(p).then(
    () => true,
    () => false,
  );
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const image = await cachedPodvmImage({ log: (l) => process.stderr.write(`${l}\n`) });
  process.stdout.write(`${image.dir}\n`);
}
