import { describe, expect, it } from "vitest";
import { boolField, durationField, stringField } from "./field-kinds.ts";
import { renderFlagHelp, renderSpecMarkdown } from "./render.ts";

const spec = {
  timeoutMs: durationField({
    env: "PROXY_TIMEOUT",
    flag: "proxy-timeout",
    default: "5m",
    description: "Proxy timeout.",
  }),
  region: stringField({
    env: "AWS_REGION",
    flag: ["aws-region", "region"],
    required: true,
    description: "Region a|b.",
  }),
  key: stringField({ env: "AWS_SECRET_ACCESS_KEY", secret: true, description: "Secret key." }),
  node: stringField({ env: "NODE_NAME", default: () => "x", defaultDoc: "the host name", description: "Node." }),
  tls: boolField({ env: "DISABLE_TLS", flag: "disable-tls", default: "false", description: "No TLS." }),
};

describe("renderSpecMarkdown", () => {
  it("renders one row per field in spec order", () => {
    expect(renderSpecMarkdown(spec)).toBe(
      [
        "| Variable | Flag | Default | Description |",
        "| --- | --- | --- | --- |",
        "| `PROXY_TIMEOUT` | `-proxy-timeout` | `5m` | Proxy timeout. |",
        "| `AWS_REGION` | `-aws-region`, `-region` | *(required)* | Region a\\|b. |",
        "| `AWS_SECRET_ACCESS_KEY` |  |  | Secret key. (secret) |",
        "| `NODE_NAME` |  | the host name | Node. |",
        "| `DISABLE_TLS` | `-disable-tls` | `false` | No TLS. |",
        "",
      ].join("\n"),
    );
  });
});

describe("renderFlagHelp", () => {
  it("lists flags with their variable and default", () => {
    const help = renderFlagHelp(spec);
    expect(help).toContain("  -proxy-timeout duration (env PROXY_TIMEOUT, default 5m)\n      Proxy timeout.");
    expect(help).toContain("  -aws-region, -region string (env AWS_REGION, required)");
    expect(help).toContain("  (no flag) string (env AWS_SECRET_ACCESS_KEY)");
    expect(help).toContain("(env NODE_NAME, default the host name)");
  });
});
