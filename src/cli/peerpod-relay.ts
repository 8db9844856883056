// peerpod-relay [flags]: the data plane. Owns the Hypervisor socket and every agent socket;
// cloud-api-adaptor drives it over RELAY_SOCKET. It keeps running while cloud-api-adaptor
// restarts; stopping it ends the shims' agent connections (drain the node first).
import { HelpRequestedError, InvalidConfigError, loggableConfig, renderFlagHelp } from "../config/core.ts";
import { loadRelayConfig, relayConfigSpec, runRelay } from "../relay/index.ts";
import { exitOnSignal } from "../util/exit-on-signal.ts";
import { createJsonLinesLogger } from "../util/json-lines-logger.ts";

async function main(): Promise<void> {
  let config;
  try {
    config = loadRelayConfig({ env: process.env, argv: process.argv.slice(2) });
  } catch (err) {
    if (err instanceof HelpRequestedError) {
      process.stdout.write(`usage: peerpod-relay [flags]\n\n${renderFlagHelp(relayConfigSpec)}\n`);
      process.exit(0);
    }
    if (err instanceof InvalidConfigError) {
      process.stderr.write(
        `peerpod-relay: invalid configuration:\n${err.errors.map((e) => `  ${e.message}`).join("\n")}\n`,
      );
      process.exit(2);
    }
    throw err;
  }
  const logger = createJsonLinesLogger(config.logLevel, "peerpod-relay");
  logger.info({ config: loggableConfig(relayConfigSpec, config), pid: process.pid }, "starting");
  let relay;
  try {
    relay = await runRelay(config, logger);
  } catch (err) {
    logger.fatal({ err: (err as Error).message }, "start-up failed");
    logger.flush();
    process.stderr.write(`peerpod-relay: ${(err as Error).message}\n`);
    process.exit(1);
  }
  exitOnSignal(logger, (signal) => {
    logger.warn({ signal, sandboxes: relay.sockets.size }, "stopping; the shims' open agent connections end now");
    return relay.stop();
  });
}

void main();
