// The operator's view of the compatibility table: one Markdown table per section (the daemon,
// then each provider), as docs/coming-from-go.md shows it. test/upstream-parity.test.ts checks
// the document holds exactly these, so the table and the document cannot drift apart.
import { UPSTREAM_FLAGS } from "./upstream-flags.ts";
import { UPSTREAM_SETTINGS, type UpstreamHandling, type UpstreamProvider } from "./upstream-settings.ts";

function verdict(h: UpstreamHandling): string {
  switch (h.kind) {
    case "honoured":
      return h.difference === undefined ? "same" : `different: ${h.difference}`;
    case "warned":
      return `not supported: warned; ${h.instead}`;
    case "refused":
      return `not supported: refused (start-up stops) when set; ${h.reason}`;
  }
}

/** The rows of the daemon's section (`provider` undefined) or of one provider's. */
export function renderUpstreamTable(provider: UpstreamProvider | undefined): string {
  const rows = UPSTREAM_SETTINGS.filter((s) =>
    provider === undefined ? s.providers === undefined : (s.providers ?? []).includes(provider),
  ).map((s) => {
    const flag = UPSTREAM_FLAGS.find(
      (f) =>
        f.env === s.env &&
        (provider === undefined ? f.providers === undefined : (f.providers ?? []).includes(provider)),
    );
    const name = flag === undefined ? `\`${s.env}\`` : `\`${s.env}\` (\`-${flag.flag}\`)`;
    const def = s.upstreamDefault === "" ? "" : `\`${s.upstreamDefault}\``;
    return `| ${name} | ${def} | ${verdict(s.handling)} |`;
  });
  return ["| Variable | Upstream default | Here |", "| --- | --- | --- |", ...rows].join("\n");
}
