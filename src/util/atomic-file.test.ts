import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { writeFileAtomic } from "./atomic-file.ts";

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "pki-write-"));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("writeFileAtomic", () => {
  it("writes the content with exactly the mode asked for", async () => {
    const path = join(dir, "secret");
    await writeFileAtomic(path, "key material", 0o600);
    expect(await readFile(path, "utf8")).toBe("key material");
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(await readdir(dir)).toEqual(["secret"]);
  });

  it("replaces an existing file and takes the new mode", async () => {
    const path = join(dir, "file");
    await writeFile(path, "old", { mode: 0o666 });
    await writeFileAtomic(path, new TextEncoder().encode("new"), 0o640);
    expect(await readFile(path, "utf8")).toBe("new");
    expect((await stat(path)).mode & 0o777).toBe(0o640);
    expect(await readdir(dir)).toEqual(["file"]);
  });

  it("fails without leaving a temporary file when the target cannot be replaced", async () => {
    const path = join(dir, "taken");
    // A non-empty directory cannot be renamed over.
    await mkdir(join(path, "child"), { recursive: true });
    await expect(writeFileAtomic(path, "x", 0o600)).rejects.toThrow();
    expect(await readdir(dir)).toEqual(["taken"]);
  });
});
