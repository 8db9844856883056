// minimal-agent: stands in for kata-agent in a local peer VM.
//   node src/cli/minimal-agent.ts [--socket PATH] [--netns PATH] [--log-level LEVEL]
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { DEFAULT_AGENT_INFO, DEFAULT_AGENT_SOCKET, startAgent } from "../agent/index.ts";
import { exitOnSignal } from "../util/exit-on-signal.ts";
import { createLogger } from "../util/logger.ts";

const USAGE = "usage: minimal-agent [--socket PATH] [--netns PATH] [--log-level LEVEL]";

function packageVersion(): string {
  // Bundled into the peer-pod image's single executable there is no package.json beside it.
  const version = process.env.CAA_VERSION ?? readPackageVersion();
  return version !== undefined ? `${version}-minimal` : DEFAULT_AGENT_INFO.version;
}

function readPackageVersion(): string | undefined {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
      version?: unknown;
    };
    return typeof pkg.version === "string" ? pkg.version : undefined;
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      socket: { type: "string", default: DEFAULT_AGENT_SOCKET },
      netns: { type: "string" },
      "log-level": { type: "string", default: "info" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const logger = createLogger(values["log-level"], "minimal-agent");
  const agent = await startAgent({
    socketPath: values.socket,
    netns: values.netns,
    logger,
    info: { ...DEFAULT_AGENT_INFO, version: packageVersion() },
  });
  exitOnSignal(logger, (signal) => {
    logger.info({ signal }, "stopping");
    return agent.close();
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`minimal-agent: ${(err as Error).message}\n${USAGE}\n`);
  process.exit(1);
});
