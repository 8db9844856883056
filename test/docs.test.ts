// The docs an operator reads: the README stays a few screens that link the rest, every link
// between the docs lands on a file and heading that exist, and the configuration tables are
// the specs the binaries load (a renamed variable or changed default shows up here first).
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { daemonConfigSpec, renderSpecMarkdown } from "../src/config/index.ts";
import { relayConfigSpec } from "../src/relay/index.ts";
import { webhookConfigSpec } from "../src/webhook/webhook-config.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const read = (rel: string) => fs.readFileSync(path.join(ROOT, rel), "utf8");

function markdownFiles(): string[] {
  const docs = fs.readdirSync(path.join(ROOT, "docs")).filter((f) => f.endsWith(".md"));
  const providers = fs
    .readdirSync(path.join(ROOT, "providers"), { withFileTypes: true })
    .filter((e) => e.isDirectory() && fs.existsSync(path.join(ROOT, "providers", e.name, "README.md")))
    .map((e) => `providers/${e.name}/README.md`);
  return ["README.md", ...docs.map((f) => `docs/${f}`), ...providers];
}

/** Text outside fenced code blocks, where Markdown links and headings live. */
function prose(text: string): string {
  return text.replace(/^```[^\n]*\n[\s\S]*?^```$/gm, "");
}

/** The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");
}

function anchors(text: string): Set<string> {
  return new Set([...prose(text).matchAll(/^#{1,6}\s+(.+)$/gm)].map((m) => slug(m[1] ?? "")));
}

describe("the docs", () => {
  it("link only to files and headings that exist", () => {
    const broken: string[] = [];
    for (const file of markdownFiles()) {
      for (const m of prose(read(file)).matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = m[1] ?? "";
        if (/^[a-z]+:/.test(target)) continue;
        const [rel = "", anchor] = target.split("#");
        const resolved = rel === "" ? file : path.join(path.dirname(file), rel);
        if (!fs.existsSync(path.join(ROOT, resolved))) {
          broken.push(`${file}: ${target} (no file ${resolved})`);
          continue;
        }
        if (anchor !== undefined && resolved.endsWith(".md") && !anchors(read(resolved)).has(anchor))
          broken.push(`${file}: ${target} (no heading #${anchor} in ${resolved})`);
      }
    }
    expect(broken).toEqual([]);
  });

  it("give every provider a README, linked from the README", () => {
    const readme = read("README.md");
    const providers = fs
      .readdirSync(path.join(ROOT, "providers"), { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
    expect(providers.length).toBeGreaterThan(0);
    for (const name of providers) {
      expect(fs.existsSync(path.join(ROOT, "providers", name, "README.md")), name).toBe(true);
      expect(readme).toContain(`](providers/${name}/README.md)`);
    }
  });

  it("keep the README to a few screens, the reference in docs/ and providers/", () => {
    const lines = read("README.md").split("\n").length;
    expect(lines, "README.md: move the detail into docs/<topic>.md or providers/<name>/README.md").toBeLessThan(320);
  });

  it("list every daemon and relay variable as the specs define them", () => {
    const doc = read("docs/configuration.md");
    expect(doc).toContain(renderSpecMarkdown(daemonConfigSpec));
    expect(doc).toContain(renderSpecMarkdown(relayConfigSpec));
    expect(read("docs/deploy.md")).toContain(renderSpecMarkdown(webhookConfigSpec));
  });

  it("give the README's common settings the daemon's names and defaults", () => {
    const readme = read("README.md");
    const section = readme.slice(
      readme.indexOf("## Configuration"),
      readme.indexOf("\n## ", readme.indexOf("## Configuration") + 1),
    );
    const rows = [...section.matchAll(/^\| `([A-Z0-9_]+)` \| (?:`([^`]*)`)? \|/gm)];
    expect(rows.length).toBeGreaterThan(5);
    const byEnv = new Map(Object.values(daemonConfigSpec).map((f) => [f.env, f]));
    for (const [, env = "", shown] of rows) {
      const field = byEnv.get(env);
      expect(field, `${env} is not a daemon variable`).toBeDefined();
      expect(shown, env).toBe(typeof field?.default === "string" ? field.default : undefined);
    }
  });
});
