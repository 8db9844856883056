import { describe, expect, it } from "vitest";
import { durationField, listField, mapField, portField, stringField } from "./field-kinds.ts";
import { loadConfig } from "./load.ts";
import { loggableConfig } from "./loggable.ts";

const spec = {
  timeoutMs: durationField({ env: "PROXY_TIMEOUT", default: "90s", description: "t" }),
  port: portField({ env: "FORWARDER_PORT", default: "15150", description: "p" }),
  tags: mapField({ env: "TAGS", description: "tags" }),
  groups: listField({ env: "AWS_SG_IDS", description: "groups" }),
  clientSecret: stringField({ env: "AZURE_CLIENT_SECRET", secret: true, description: "secret" }),
  secretTags: mapField({ env: "SECRET_TAGS", secret: true, description: "secret map" }),
  unset: stringField({ env: "PAUSE_IMAGE", description: "unset" }),
};

describe("loggableConfig", () => {
  it("keys by variable, shows durations in Go form and maps as objects", () => {
    const config = loadConfig(spec, { env: { TAGS: "a=1,b=2", AWS_SG_IDS: "sg-1,sg-2" }, argv: [] });
    expect(loggableConfig(spec, config)).toEqual({
      PROXY_TIMEOUT: "1m30s",
      FORWARDER_PORT: 15150,
      TAGS: { a: "1", b: "2" },
      AWS_SG_IDS: ["sg-1", "sg-2"],
    });
  });

  it("redacts set secrets and omits unset ones", () => {
    const config = loadConfig(spec, {
      env: { AZURE_CLIENT_SECRET: "hunter2", SECRET_TAGS: "token=hunter3" },
      argv: [],
    });
    const shown = loggableConfig(spec, config);
    expect(shown["AZURE_CLIENT_SECRET"]).toBe("<redacted>");
    expect(shown["SECRET_TAGS"]).toBe("<redacted>");
    expect(JSON.stringify(shown)).not.toMatch(/hunter/);
    expect("PAUSE_IMAGE" in shown).toBe(false);
  });
});
