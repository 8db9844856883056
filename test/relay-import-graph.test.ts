// peerpod-relay must stay small and free of cloud code: every line it loads is a line whose
// change forces a node drain. This walks the imports reachable from its binary (static and
// dynamic) and checks what it may load.
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const IMPORT =
  /\b(?:import|export)\s[^;]*?\bfrom\s*["']([^"']+)["']|\bimport\s*\(\s*["']([^"']+)["']\s*\)|\bimport\s*["']([^"']+)["']/g;

/** The relay's own files and the packages they import, from bin/peerpod-relay.js on. */
function reach(entry: string): { files: string[]; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const todo = [entry];
  while (todo.length > 0) {
    const f = todo.pop()!;
    if (files.has(f)) continue;
    files.add(f);
    const text = readFileSync(path.join(ROOT, f), "utf8")
      .split("\n")
      .filter((line) => !/^\s*(\/\/|\/\*|\*)/.test(line))
      .join("\n");
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[1] ?? m[2] ?? m[3]!;
      // Type-only imports are erased: they load nothing.
      if (/^\s*(import|export)\s+type\s/.test(m[0])) continue;
      if (spec.startsWith(".")) todo.push(path.normalize(path.join(path.dirname(f), spec)));
      else if (!spec.startsWith("node:"))
        packages.add(spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0]!);
    }
  }
  return { files: [...files].sort(), packages };
}

describe("peerpod-relay's import graph", () => {
  const { files, packages } = reach("bin/peerpod-relay.js");

  it("loads no provider, no cloud SDK, no Kubernetes client, no protobuf runtime and no pino", () => {
    expect(files.filter((f) => f.startsWith("providers/"))).toEqual([]);
    // Nothing from npm: its logs are JSON lines of its own (util/json-lines-logger.ts), since
    // pino costs it memory (bench:relay) for a few lines per sandbox.
    expect([...packages]).toEqual([]);
    expect(files).toContain("src/util/json-lines-logger.ts");
    expect(files).not.toContain("src/util/logger.ts");
  });

  it("reaches only the relay, the raw ttrpc layer, the proxy, pki's TLS settings and profile, configuration and small utilities", () => {
    const folders = new Set(files.filter((f) => f.startsWith("src/")).map((f) => f.split("/")[1]));
    expect([...folders].sort()).toEqual(["cli", "config", "pki", "proxy", "relay", "ttrpc", "util"]);
    expect(files.filter((f) => f.startsWith("src/pki/"))).toEqual(["src/pki/tls-options.ts", "src/pki/tls-profile.ts"]);
    expect(files.filter((f) => f.startsWith("src/cli/"))).toEqual(["src/cli/peerpod-relay.ts"]);
    expect(files.filter((f) => f.startsWith("src/relay/client/"))).toEqual([]);
    expect(
      files
        .filter((f) => f.startsWith("src/ttrpc/"))
        .filter((f) => /\/(client|server|typed-service|index)\.ts$/.test(f)),
    ).toEqual([]);
  });

  it("stays small enough to review in one sitting", () => {
    // Lines of code: blank and comment lines do not count, so the formatter's wrapping and the
    // comments that explain the code are not what the bound weighs.
    const code = (f: string) =>
      readFileSync(path.join(ROOT, f), "utf8")
        .split("\n")
        .filter((line) => line.trim() !== "" && !/^\s*(\/\/|\/\*|\*)/.test(line)).length;
    expect(files.reduce((n, f) => n + code(f), 0)).toBeLessThan(3500);
  });
});
