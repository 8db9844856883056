// agent-protocol-forwarder: runs in the peer VM. Reads the configuration the daemon sent as
// user-data (written by cloud-init to /run/peerpod/daemon.json, or read from the user-data
// itself with --user-data), sets up the VM end of the pod's tunnel and relays the agent
// protocol from FORWARDER_PORT to kata-agent's socket. A warm-pool VM's user-data makes it wait
// for a claim instead (see runForwarder).
import fs from "node:fs/promises";
import { parseArgs } from "node:util";
import { runForwarder } from "../forwarder/run-forwarder.ts";
import { bootConfigFromUserData, FORWARDER_CONFIG_PATH, isPoolConfig, parseBootConfig } from "../userdata/index.ts";
import { exitOnSignal } from "../util/exit-on-signal.ts";
import { createLogger } from "../util/logger.ts";

const USAGE = `usage: agent-protocol-forwarder [--config FILE | --user-data FILE] [--listen ADDRESS] [--kata-agent-socket PATH] [--pod-namespace NAME] [--ca-cert-file FILE --cert-file FILE --cert-key FILE]`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      config: { type: "string", default: FORWARDER_CONFIG_PATH },
      "user-data": { type: "string" },
      listen: { type: "string", default: "0.0.0.0" },
      "kata-agent-socket": { type: "string", default: "/run/kata-containers/agent.sock" },
      "pod-namespace": { type: "string", default: "podns" },
      // Certificates baked into the image, for daemons run with operator certificates
      // (CACERT_FILE...): used when the user-data carries no TLS material.
      "ca-cert-file": { type: "string" },
      "cert-file": { type: "string" },
      "cert-key": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const logger = createLogger(process.env.LOG_LEVEL ?? "info", "agent-protocol-forwarder");
  const config =
    values["user-data"] !== undefined
      ? bootConfigFromUserData(await fs.readFile(values["user-data"], "utf8"))
      : parseBootConfig(await fs.readFile(values.config, "utf8"));
  const files = [values["ca-cert-file"], values["cert-file"], values["cert-key"]];
  if (files.some((f) => f !== undefined) && files.some((f) => f === undefined))
    throw new Error("--ca-cert-file, --cert-file and --cert-key go together");
  const [caCertFile, certFile, certKey] = files;
  const running = await runForwarder(config, {
    ...(caCertFile !== undefined && certFile !== undefined && certKey !== undefined
      ? { tlsFiles: { caCertFile, certFile, certKey } }
      : {}),
    listenHost: values.listen,
    agentSocketPath: values["kata-agent-socket"],
    podNetnsName: values["pod-namespace"],
    logger,
  });
  if (isPoolConfig(config))
    logger.info({ port: running.port, poolVm: config.poolVm }, "pool VM forwarder up, waiting for a claim");
  else logger.info({ port: running.port, sandbox: config.sandboxId }, "forwarding the agent protocol");
  exitOnSignal(logger, () => running.close());
}

main().catch((err: Error) => {
  process.stderr.write(`agent-protocol-forwarder: ${err.message}\n`);
  process.exit(1);
});
