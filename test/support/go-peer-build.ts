// Builds the Go ttrpc peer (test/go-peer) against Debian's packaged Go sources.
import { randomUUID } from "node:crypto";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { goBuild, goProgram, isBuilt } from "./gopath-build.ts";

// golang-github-containerd-ttrpc-dev and its dependencies install under GOPATH.
const GO_PEER = goProgram(
  "go-peer",
  { file: "github.com/containerd/ttrpc/client.go", what: "containerd/ttrpc Go sources" },
  "golang-github-containerd-ttrpc-dev",
);
export const GO_PEER_BINARY = GO_PEER.binary;

/**
 * Builds the peer into .cache/go-peer/go-peer unless it is newer than every source file, and
 * returns its path. Safe for test files running in parallel: each builds under its own temporary
 * name and renames, which replaces the binary atomically.
 */
export async function buildGoPeer(): Promise<string> {
  if (await isBuilt(GO_PEER)) return GO_PEER_BINARY;
  await fs.mkdir(path.dirname(GO_PEER_BINARY), { recursive: true });
  const temp = `${GO_PEER_BINARY}.${process.pid}.${randomUUID()}.tmp`;
  try {
    await goBuild(GO_PEER, temp);
    await fs.rename(temp, GO_PEER_BINARY);
  } finally {
    await fs.rm(temp, { force: true });
  }
  return GO_PEER_BINARY;
}
