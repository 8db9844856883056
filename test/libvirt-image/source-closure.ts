// Which of the project's files a program needs: follows relative imports from its entry
// points, and collects the npm packages they name (with those packages' own dependencies).
import fs from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";

const IMPORT =
  /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)|^\s*import\s*["']([^"']+)["']/gm;

export interface SourceClosure {
  /** Project files, relative to the root. */
  readonly files: string[];
  /** Package folders, relative to the root (node_modules/...). */
  readonly packages: string[];
}

export async function sourceClosure(root: string, entries: readonly string[]): Promise<SourceClosure> {
  const files = new Set<string>();
  const bare = new Set<string>();
  const queue = entries.map((e) => path.resolve(root, e));
  while (queue.length > 0) {
    const file = queue.pop()!;
    const rel = path.relative(root, file);
    if (files.has(rel)) continue;
    files.add(rel);
    const text = await fs.readFile(file, "utf8");
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[1] ?? m[2] ?? m[3]!;
      if (spec.startsWith("node:")) continue;
      if (spec.startsWith(".")) queue.push(path.resolve(path.dirname(file), spec));
      else bare.add(packageName(spec));
    }
  }
  const packages = new Set<string>();
  const pending = [...bare].map((name) => ({ name, from: root }));
  while (pending.length > 0) {
    const { name, from } = pending.pop()!;
    const dir = await packageDir(name, from);
    const rel = path.relative(root, dir);
    if (packages.has(rel)) continue;
    packages.add(rel);
    const pkg = JSON.parse(await fs.readFile(path.join(dir, "package.json"), "utf8")) as {
      dependencies?: Record<string, string>;
    };
    for (const dep of Object.keys(pkg.dependencies ?? {})) pending.push({ name: dep, from: dir });
  }
  return { files: [...files].sort(), packages: [...packages].sort() };
}

function packageName(spec: string): string {
  const parts = spec.split("/");
  return spec.startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0]!;
}

/** The folder node would load `name` from, starting at `from`. */
async function packageDir(name: string, from: string): Promise<string> {
  let dir = from;
  for (;;) {
    const candidate = path.join(dir, "node_modules", name);
    try {
      await fs.access(path.join(candidate, "package.json"));
      return candidate;
    } catch {
      const up = path.dirname(dir);
      if (up === dir) break;
      dir = up;
    }
  }
  // Fall back on node's own resolution (exports-only packages).
  const req = createRequire(path.join(from, "noop.js"));
  return path.dirname(req.resolve(`${name}/package.json`));
}
