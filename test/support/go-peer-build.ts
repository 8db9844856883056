// Builds the Go ttrpc peer (test/go-peer) against Debian's packaged Go sources.
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const SOURCE_DIR = path.join(REPO_ROOT, "test", "go-peer");
const CACHE_DIR = path.join(REPO_ROOT, ".cache");
export const GO_PEER_BINARY = path.join(CACHE_DIR, "go-peer", "go-peer");

// golang-github-containerd-ttrpc-dev and its dependencies install here; the peer is built in
// GOPATH mode so no module download is ever needed.
const GOPATH = "/usr/share/gocode";
const TTRPC_SOURCE = path.join(GOPATH, "src", "github.com", "containerd", "ttrpc", "client.go");
const INSTALL_HINT = "install them with: apt-get install golang-go golang-github-containerd-ttrpc-dev";

async function newestSourceMtime(): Promise<number> {
  const names = (await fs.readdir(SOURCE_DIR)).filter((n) => n.endsWith(".go"));
  if (names.length === 0) throw new Error(`no Go sources in ${SOURCE_DIR}`);
  const stats = await Promise.all(names.map((n) => fs.stat(path.join(SOURCE_DIR, n))));
  return Math.max(...stats.map((s) => s.mtimeMs));
}

async function binaryMtime(): Promise<number | undefined> {
  try {
    return (await fs.stat(GO_PEER_BINARY)).mtimeMs;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

async function assertTtrpcSources(): Promise<void> {
  try {
    await fs.access(TTRPC_SOURCE);
  } catch {
    throw new Error(`containerd/ttrpc Go sources not found at ${TTRPC_SOURCE}; ${INSTALL_HINT}`);
  }
}

function goBuild(output: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn("go", ["build", "-o", output, "."], {
      cwd: SOURCE_DIR,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...process.env,
        GO111MODULE: "off",
        GOPATH,
        GOCACHE: path.join(CACHE_DIR, "go-build"),
        GOFLAGS: "",
      },
    });
    let log = "";
    child.stdout.on("data", (chunk: Buffer) => (log += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (log += chunk.toString()));
    child.on("error", (err: NodeJS.ErrnoException) => {
      reject(err.code === "ENOENT" ? new Error(`the Go toolchain ('go') is not on PATH; ${INSTALL_HINT}`) : err);
    });
    child.on("close", (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`go build of ${SOURCE_DIR} failed (${signal ?? `exit ${code}`}):\n${log}`));
    });
  });
}

/**
 * Builds the peer into .cache/go-peer/go-peer unless it is newer than every source file, and
 * returns its path. Safe for test files running in parallel: each builds under its own temporary
 * name and renames, which replaces the binary atomically.
 */
export async function buildGoPeer(): Promise<string> {
  const built = await binaryMtime();
  if (built !== undefined && built >= (await newestSourceMtime())) return GO_PEER_BINARY;

  await assertTtrpcSources();
  await fs.mkdir(path.dirname(GO_PEER_BINARY), { recursive: true });
  const temp = `${GO_PEER_BINARY}.${process.pid}.${randomUUID()}.tmp`;
  try {
    await goBuild(temp);
    await fs.rename(temp, GO_PEER_BINARY);
  } finally {
    await fs.rm(temp, { force: true });
  }
  return GO_PEER_BINARY;
}
