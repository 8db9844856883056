// The forwarder's single executable is part of the image whose bytes must not change between
// builds of the same sources: its SEA blob (what postject injects into the Node binary) comes
// out the same from two builds in two different temporary folders.
import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { makeSeaBlob } from "./build.ts";

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await fs.rm(d, { recursive: true, force: true });
});

async function blobHash(): Promise<{ hash: string; work: string; blob: Buffer }> {
  const work = await fs.mkdtemp(path.join(os.tmpdir(), "forwarder-sea-test-"));
  dirs.push(work);
  const blob = await fs.readFile(await makeSeaBlob(work));
  return { hash: createHash("sha256").update(blob).digest("hex"), work, blob };
}

describe("the forwarder's SEA blob", () => {
  it("is the same from two builds in different folders, and names no build folder", async () => {
    const a = await blobHash();
    const b = await blobHash();
    expect(a.blob.includes(a.work)).toBe(false);
    expect(b.hash).toBe(a.hash);
  }, 120_000);
});
