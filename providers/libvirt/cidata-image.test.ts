// The seed image is checked with the FAT tools an operator would use (dosfstools, mtools),
// independently of how it was written.
import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildCidataImage, noCloudFiles } from "./cidata-image.ts";

const run = promisify(execFile);
let dir: string;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "cidata-"));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

async function write(img: Buffer): Promise<string> {
  const file = path.join(dir, `seed-${Math.random().toString(16).slice(2)}.img`);
  await fs.writeFile(file, img);
  return file;
}

describe("NoCloud cidata image", () => {
  it("is a clean FAT file system labelled CIDATA holding user-data and meta-data", async () => {
    const userData = "#cloud-config\nwrite_files: []\n";
    const file = await write(buildCidataImage(noCloudFiles("podvm-abc", "podvm-abc", userData)));
    const fsck = await run("fsck.fat", ["-n", file]);
    expect(fsck.stdout).toMatch(/3 files/);
    const { stdout: label } = await run("blkid", ["-o", "export", file]);
    expect(label).toContain("LABEL=CIDATA");
    expect(label).toContain("TYPE=vfat");
    const { stdout: listing } = await run("mdir", ["-i", file, "-b", "::"]);
    expect(listing.split("\n").filter(Boolean).sort()).toEqual(["::/meta-data", "::/user-data"]);
    expect((await run("mtype", ["-i", file, "::user-data"])).stdout).toBe(userData);
    expect((await run("mtype", ["-i", file, "::meta-data"])).stdout).toBe(
      "instance-id: podvm-abc\nlocal-hostname: podvm-abc\n",
    );
  });

  it("carries large user-data across many clusters intact", async () => {
    const big = `#cloud-config\n${Array.from({ length: 40_000 }, (_, i) => `# line ${i}\n`).join("")}`;
    const file = await write(buildCidataImage(noCloudFiles("i", "h", big)));
    await run("fsck.fat", ["-n", file]);
    const { stdout } = await run("mtype", ["-i", file, "::user-data"], { maxBuffer: 16 * 1024 * 1024 });
    expect(stdout).toBe(big);
  });

  it("is the same bytes for the same input", () => {
    const files = noCloudFiles("a", "b", "#cloud-config\n");
    expect(buildCidataImage(files).equals(buildCidataImage(files))).toBe(true);
  });

  it("refuses names FAT cannot hold and duplicates", () => {
    expect(() => buildCidataImage([{ name: "a/b", content: Buffer.alloc(1) }])).toThrow(/seed file name/);
    expect(() =>
      buildCidataImage([
        { name: "user-data", content: Buffer.alloc(1) },
        { name: "USER-DATA", content: Buffer.alloc(1) },
      ]),
    ).toThrow(/twice/);
  });
});
