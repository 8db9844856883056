// peerpods-webhook [flags]: the mutating admission webhook for peer pods (see src/webhook).
import { HelpRequestedError, InvalidConfigError, loggableConfig, renderFlagHelp } from "../config/index.ts";
import { tlsProfile } from "../pki/tls-profile.ts";
import { exitOnSignal } from "../util/exit-on-signal.ts";
import { createLogger } from "../util/logger.ts";
import {
  admissionPolicyOf,
  loadWebhookConfig,
  startWebhookServer,
  upstreamWebhookWarnings,
  type WebhookConfig,
  webhookConfigSpec,
} from "../webhook/index.ts";

async function main(): Promise<void> {
  let config: WebhookConfig;
  let warnings: string[];
  try {
    config = loadWebhookConfig({ env: process.env, argv: process.argv.slice(2) });
    warnings = upstreamWebhookWarnings(process.env);
  } catch (err) {
    if (err instanceof HelpRequestedError) {
      process.stdout.write(`usage: peerpods-webhook [flags]\n\n${renderFlagHelp(webhookConfigSpec)}\n`);
      process.exit(0);
    }
    if (err instanceof InvalidConfigError) {
      process.stderr.write(
        `peerpods-webhook: invalid configuration:\n${err.errors.map((e) => `  ${e.message}`).join("\n")}\n`,
      );
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger(config.logLevel, "peerpods-webhook");
  const policy = admissionPolicyOf(config);
  logger.info(
    { config: loggableConfig(webhookConfigSpec, config), excludedNamespaces: [...policy.excludedNamespaces] },
    "starting",
  );
  for (const warning of warnings) logger.warn(warning);
  let server;
  try {
    server = await startWebhookServer({
      port: config.port,
      certFile: config.certFile,
      keyFile: config.keyFile,
      tlsPollIntervalMs: config.tlsPollIntervalMs,
      tlsProfile: tlsProfile(config.tlsMinVersion, config.tlsCipherSuites),
      policy,
      logger,
    });
  } catch (err) {
    logger.fatal({ err: (err as Error).message }, "start-up failed");
    logger.flush();
    process.stderr.write(`peerpods-webhook: ${(err as Error).message}\n`);
    process.exit(1);
  }
  logger.info({ port: server.port }, "serving admission reviews");
  exitOnSignal(logger, (signal) => {
    logger.info({ signal }, "stopping");
    return server.close();
  });
}

void main();
