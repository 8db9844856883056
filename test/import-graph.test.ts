// The shape of the import graph, read from the sources: no module imports itself through
// others (a cycle makes load order matter and hides which side owns a type), and everything
// under src/ and providers/ is there because something that runs needs it, not only tests.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SOURCE = /\.(ts|js)$/;

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
    const rel = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(rel));
    else if (SOURCE.test(e.name) && !e.name.endsWith(".d.ts")) out.push(rel);
  }
  return out;
}

const isTestOnly = (f: string) => f.endsWith(".test.ts") || f.startsWith("test/") || f.startsWith("bench/");

// Static and dynamic imports, and re-exports. Type-only imports count: a cycle of types is
// still a cycle a reader has to untangle.
const IMPORT =
  /\b(?:import|export)\s[^;]*?\bfrom\s*["']([^"']+)["']|\bimport\s*\(\s*["']([^"']+)["']\s*\)|\bimport\s*["']([^"']+)["']/g;
// A module started as a process of its own (`new URL("./vm-main.ts", import.meta.url)`).
const SPAWNED = /new URL\(\s*["'](\.[^"']+\.(?:ts|js))["']\s*,\s*import\.meta\.url\s*\)/g;

interface Node {
  readonly imports: string[];
  readonly spawns: string[];
}

function resolve(from: string, spec: string): string {
  return path.normalize(path.join(path.dirname(from), spec));
}

function graph(): Map<string, Node> {
  const files = ["bin", "src", "providers", "podvm", "test", "bench"].flatMap(filesUnder);
  const g = new Map<string, Node>();
  for (const f of files) {
    // Comment lines may show import syntax by way of example; only code counts.
    const text = readFileSync(path.join(ROOT, f), "utf8")
      .split("\n")
      .filter((line) => !/^\s*(\/\/|\/\*|\*)/.test(line))
      .join("\n");
    const imports = [...text.matchAll(IMPORT)]
      .map((m) => m[1] ?? m[2] ?? m[3]!)
      .filter((s) => s.startsWith("."))
      .map((s) => resolve(f, s));
    const spawns = [...text.matchAll(SPAWNED)].map((m) => resolve(f, m[1]!));
    g.set(f, { imports, spawns });
  }
  return g;
}

/** Strongly connected components of more than one module (Tarjan), or a module importing itself. */
function cycles(g: Map<string, Node>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of g.get(v)!.imports) {
      if (!g.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || g.get(v)!.imports.includes(v)) found.push(component.sort());
    }
  };
  for (const v of g.keys()) if (!index.has(v)) visit(v);
  return found;
}

describe("import graph", () => {
  const g = graph();

  it("resolves every relative import to a file in the tree", () => {
    const missing: string[] = [];
    for (const [f, n] of g) {
      for (const target of [...n.imports, ...n.spawns]) {
        if (!g.has(target) && !target.endsWith(".json") && !target.endsWith("/")) missing.push(`${f} -> ${target}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it("has no cycle", () => {
    expect(cycles(g)).toEqual([]);
  });

  it("finds a cycle when there is one", () => {
    const looped = new Map<string, Node>([
      ["a.ts", { imports: ["b.ts"], spawns: [] }],
      ["b.ts", { imports: ["c.ts"], spawns: [] }],
      ["c.ts", { imports: ["a.ts"], spawns: [] }],
      ["d.ts", { imports: ["a.ts"], spawns: [] }],
    ]);
    expect(cycles(looped)).toEqual([["a.ts", "b.ts", "c.ts"]]);
  });

  it("holds under src/ and providers/ only what the binaries run", () => {
    const reached = new Set<string>();
    // The binaries: bin/ for the node's, src/cli/ also for those of the peer VM (minimal-agent),
    // and the peer-pod image's tooling under podvm/ (its forwarder executable's entry point).
    const todo = [...g.keys()].filter(
      (f) => f.startsWith("bin/") || ((f.startsWith("src/cli/") || f.startsWith("podvm/")) && !isTestOnly(f)),
    );
    expect(todo.length).toBeGreaterThan(0);
    while (todo.length > 0) {
      const f = todo.pop()!;
      if (reached.has(f) || !g.has(f)) continue;
      reached.add(f);
      todo.push(...g.get(f)!.imports, ...g.get(f)!.spawns);
    }
    const unused = [...g.keys()].filter(
      (f) => (f.startsWith("src/") || f.startsWith("providers/")) && !isTestOnly(f) && !reached.has(f),
    );
    expect(unused).toEqual([]);
  });
});
