// cloud-api-adaptor [provider] [flags]: the peer-pods daemon. The provider comes from the first
// argument (upstream's form), else CLOUD_PROVIDER, else "local".
import {
  daemonConfigSpec,
  HelpRequestedError,
  InvalidConfigError,
  loggableConfig,
  renderFlagHelp,
} from "../config/index.ts";
import { type DaemonSettings, loadDaemonSettings } from "../config/upstream/index.ts";
import { exitOnSignal } from "../util/exit-on-signal.ts";
import { createLogger } from "../util/logger.ts";
import { runDaemon } from "./daemon.ts";

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const env: Record<string, string | undefined> = { ...process.env };
  if (argv[0] !== undefined && !argv[0].startsWith("-")) env.CLOUD_PROVIDER = argv.shift();
  let settings: DaemonSettings;
  try {
    settings = loadDaemonSettings({ env, argv });
  } catch (err) {
    if (err instanceof HelpRequestedError) {
      process.stdout.write(`usage: cloud-api-adaptor [provider] [flags]\n\n${renderFlagHelp(daemonConfigSpec)}\n`);
      process.exit(0);
    }
    if (err instanceof InvalidConfigError) {
      process.stderr.write(
        `cloud-api-adaptor: invalid configuration:\n${err.errors.map((e) => `  ${e.message}`).join("\n")}\n`,
      );
      process.exit(2);
    }
    throw err;
  }
  const { config, findings } = settings;
  const refused = findings.filter((f) => f.level === "error");
  if (refused.length > 0) {
    process.stderr.write(
      `cloud-api-adaptor: invalid configuration:\n${refused.map((f) => `  ${f.message}`).join("\n")}\n`,
    );
    process.exit(2);
  }
  const logger = createLogger(config.logLevel, "cloud-api-adaptor");
  logger.info({ config: loggableConfig(daemonConfigSpec, config) }, "starting");
  for (const finding of findings) logger.warn({ setting: finding.variable }, finding.message);
  let daemon;
  try {
    daemon = await runDaemon(config, settings.env, logger);
  } catch (err) {
    logger.fatal({ err: (err as Error).message }, "start-up failed");
    logger.flush();
    process.stderr.write(`cloud-api-adaptor: ${(err as Error).message}\n`);
    process.exit(1);
  }
  exitOnSignal(logger, (signal) => {
    logger.info({ signal }, "stopping; peer VMs keep running");
    return daemon.stop();
  });
}

void main();
