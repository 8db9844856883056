import fs from "node:fs";
import { describe, expect, it } from "vitest";
import { renderSpecMarkdown } from "../../src/config/index.ts";
import { localConfigSpec } from "./config.ts";

describe("local provider configuration", () => {
  it("is documented by providers/local/README.md, kept in step with the spec", () => {
    const table = renderSpecMarkdown(localConfigSpec);
    expect(fs.readFileSync(new URL("./README.md", import.meta.url), "utf8")).toContain(table);
    expect(table).toContain("| `LOCAL_BRIDGE` |  | `caa-local0` |");
  });
});
