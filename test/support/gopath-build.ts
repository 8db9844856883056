// Builds a Go program of test/ in GOPATH mode against Debian's packaged Go sources, so no module
// download is ever needed: what the go peer (go-peer-build.ts) and the vCenter simulator
// (vcsim.ts) share. Each caller keeps its own way of sharing one build between test files.
import { spawn } from "node:child_process";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CACHE_DIR = path.join(REPO_ROOT, ".cache");
/** Where Debian's golang-*-dev packages install their sources. */
const GOPATH = "/usr/share/gocode";

export interface GoProgram {
  /** test/<name>, its sources. */
  readonly sourceDir: string;
  /** .cache/<name>/<name>, the binary. */
  readonly binary: string;
  /** A file of the packaged sources it builds against, and what they are, for the error. */
  readonly needs: { readonly file: string; readonly what: string };
  /** What to install when the toolchain or the packaged sources are missing. */
  readonly installHint: string;
}

/** test/<name>, built against `needs` (a path under GOPATH's src) of the Debian package `pkg`. */
export function goProgram(name: string, needs: { file: string; what: string }, pkg: string): GoProgram {
  return {
    sourceDir: path.join(REPO_ROOT, "test", name),
    binary: path.join(CACHE_DIR, name, name),
    needs: { file: path.join(GOPATH, "src", needs.file), what: needs.what },
    installHint: `install them with: apt-get install golang-go ${pkg}`,
  };
}

/** The file's modification time, or undefined when there is no such file. */
export async function mtime(file: string): Promise<number | undefined> {
  try {
    return (await fs.stat(file)).mtimeMs;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

/** Whether the binary is there and newer than every .go file of the sources. */
export async function isBuilt(program: GoProgram): Promise<boolean> {
  const built = await mtime(program.binary);
  if (built === undefined) return false;
  const names = (await fs.readdir(program.sourceDir)).filter((n) => n.endsWith(".go"));
  if (names.length === 0) throw new Error(`no Go sources in ${program.sourceDir}`);
  const stats = await Promise.all(names.map((n) => fs.stat(path.join(program.sourceDir, n))));
  return stats.every((s) => s.mtimeMs <= built);
}

/** `go build` of the program into `output`; a failure carries the compiler's output. */
export async function goBuild(program: GoProgram, output: string): Promise<void> {
  const { sourceDir, installHint } = program;
  try {
    await fs.access(program.needs.file);
  } catch {
    throw new Error(`${program.needs.what} not found at ${program.needs.file}; ${installHint}`);
  }
  await new Promise<void>((resolve, reject) => {
    const child = spawn("go", ["build", "-o", output, "."], {
      cwd: sourceDir,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, GO111MODULE: "off", GOPATH, GOCACHE: path.join(CACHE_DIR, "go-build"), GOFLAGS: "" },
    });
    let log = "";
    child.stdout.on("data", (chunk: Buffer) => (log += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (log += chunk.toString()));
    child.on("error", (err: NodeJS.ErrnoException) => {
      reject(err.code === "ENOENT" ? new Error(`the Go toolchain ('go') is not on PATH; ${installHint}`) : err);
    });
    child.on("close", (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`go build of ${sourceDir} failed (${signal ?? `exit ${code}`}):\n${log}`));
    });
  });
}
