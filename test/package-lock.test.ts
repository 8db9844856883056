// `npm ci` installs only from a lock file that agrees with package.json and names every
// package the tree can need, optional platform packages (buf's binaries for other systems)
// included; a lock made on one machine without them is refused on a fresh clone.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

interface LockPackage {
  version?: string;
  bin?: Record<string, string>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

const pkg = JSON.parse(fs.readFileSync(path.join(REPO, "package.json"), "utf8")) as LockPackage;
const lock = JSON.parse(fs.readFileSync(path.join(REPO, "package-lock.json"), "utf8")) as {
  lockfileVersion: number;
  packages: Record<string, LockPackage>;
};

/** Where npm finds `name` for the package at `from`: its own node_modules, then each parent's. */
function resolve(from: string, name: string): string | undefined {
  let base = from;
  for (;;) {
    const candidate = base === "" ? `node_modules/${name}` : `${base}/node_modules/${name}`;
    if (lock.packages[candidate] !== undefined) return candidate;
    if (base === "") return undefined;
    const cut = base.lastIndexOf("/node_modules/");
    base = cut < 0 ? "" : base.slice(0, cut);
  }
}

describe("package-lock.json", () => {
  it("agrees with package.json on dependencies and binaries", () => {
    const root = lock.packages[""]!;
    expect(lock.lockfileVersion).toBe(3);
    expect(root.dependencies).toEqual(pkg.dependencies);
    expect(root.devDependencies).toEqual(pkg.devDependencies);
    expect(root.bin).toEqual(pkg.bin);
  });

  it("has an entry for every dependency of every package, optional platform packages included", () => {
    const missing: string[] = [];
    for (const [at, p] of Object.entries(lock.packages)) {
      const needed = { ...p.dependencies, ...p.optionalDependencies, ...(at === "" ? p.devDependencies : {}) };
      for (const name of Object.keys(needed))
        if (resolve(at, name) === undefined) missing.push(`${name} (for ${at || "the project"})`);
      for (const name of Object.keys(p.peerDependencies ?? {})) {
        if (p.peerDependenciesMeta?.[name]?.optional !== true && resolve(at, name) === undefined)
          missing.push(`${name} (peer of ${at})`);
      }
    }
    expect(missing).toEqual([]);
  });
});
