// The "VM" of the local provider: one detached process that does what a peer VM's boot does —
// cloud-init writes the user-data's files (under this VM's folder, standing in for its root
// file system), then the minimal agent and the agent-protocol-forwarder start.
import fs from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import { startAgent } from "../../src/agent/index.ts";
import { runForwarder } from "../../src/forwarder/index.ts";
import {
  type CloudConfigFile,
  FORWARDER_CONFIG_PATH,
  parseBootConfig,
  parseCloudConfig,
} from "../../src/userdata/index.ts";
import { exitOnSignal } from "../../src/util/exit-on-signal.ts";
import { createLogger } from "../../src/util/logger.ts";
import { USER_DATA_FILE } from "./vm-record.ts";

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { dir: { type: "string" }, address: { type: "string" }, "tls-dir": { type: "string" } },
  });
  if (values.dir === undefined || values.address === undefined)
    throw new Error("usage: vm-main --dir DIR --address ADDRESS");
  const dir = values.dir;
  const root = path.join(dir, "root");
  const logger = createLogger(process.env.LOG_LEVEL ?? "info", "local-vm").child({ vm: path.basename(dir) });

  // cloud-init's write_files, rooted in this VM's folder.
  // A claim's files (warm pool) land the same way.
  const writeFile = async (file: CloudConfigFile) => {
    const target = path.join(root, path.resolve("/", file.path));
    await fs.mkdir(path.dirname(target), { recursive: true, mode: 0o755 });
    await fs.writeFile(target, file.content, { mode: parseInt(file.permissions, 8) });
    await fs.chmod(target, parseInt(file.permissions, 8));
  };
  const userData = await fs.readFile(path.join(dir, USER_DATA_FILE), "utf8");
  for (const file of parseCloudConfig(userData)) await writeFile(file);
  const config = parseBootConfig(await fs.readFile(path.join(root, FORWARDER_CONFIG_PATH), "utf8"));

  const forwarder = await runForwarder(config, {
    listenHost: values.address,
    agentSocketPath: path.join("root", "run/kata-containers/agent.sock"),
    podNetnsName: `podns-${path.basename(dir).slice(-24)}`,
    startAgent: (socketPath, netns) => startAgent({ socketPath, netns, logger }),
    ...(values["tls-dir"] === undefined
      ? {}
      : {
          tlsFiles: {
            caCertFile: path.join(values["tls-dir"], "ca.crt"),
            certFile: path.join(values["tls-dir"], "tls.crt"),
            certKey: path.join(values["tls-dir"], "tls.key"),
          },
        }),
    writeFile,
    logger,
  });
  logger.info({ address: values.address, port: config.listenPort, tls: config.tls !== undefined }, "local VM up");

  exitOnSignal(logger, () => forwarder.close());
}

main().catch((err: Error) => {
  process.stderr.write(`local VM: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
