// What a peer VM runs from its user-data: the VM end of the pod's tunnel (when the pod has a
// network), the forwarder on FORWARDER_PORT, and, on the local provider, the minimal agent.
// A warm-pool VM runs the forwarder alone until a claim brings its sandbox's configuration.
import fs from "node:fs/promises";
import path from "node:path";
import type { Logger } from "pino";
import { poolVmServerName } from "../pki/server-name.ts";
import { probeHealth } from "../ttrpc/health-probe.ts";
import { setupVmTunnel, teardownVmTunnel } from "../tunnel/index.ts";
import {
  type CloudConfigFile,
  type ForwarderConfig,
  isPoolConfig,
  type PoolForwarderConfig,
} from "../userdata/index.ts";
import { connectAgent } from "./agent-connect.ts";
import { ClaimHandler } from "./claim-handler.ts";
import { startForwarder } from "./forwarder.ts";

export interface RunForwarderOptions {
  /** Address to listen on; "0.0.0.0" in a cloud VM. */
  readonly listenHost: string;
  readonly agentSocketPath: string;
  /** Network namespace the pod's containers run in (created when the pod has a network). */
  readonly podNetnsName: string;
  /** Starts an agent beside the forwarder (local provider); a cloud VM runs kata-agent itself. */
  readonly startAgent?: (socketPath: string, netns: string | undefined) => Promise<{ close(): Promise<void> }>;
  /** Pool VM: writes one file a claim brings (what cloud-init does for a cold VM); default:
   * at its path on this machine. */
  readonly writeFile?: (file: CloudConfigFile) => Promise<void>;
  readonly logger: Logger;
  /**
   * Certificates that came with the VM's image (the operator's, as with upstream's
   * CACERT_FILE): used when the configuration carries no TLS material.
   */
  readonly tlsFiles?: { readonly caCertFile: string; readonly certFile: string; readonly certKey: string };
}

export interface RunningForwarder {
  readonly port: number;
  close(): Promise<void>;
}

type Cleanup = () => Promise<void>;

export async function runForwarder(
  config: ForwarderConfig | PoolForwarderConfig,
  o: RunForwarderOptions,
): Promise<RunningForwarder> {
  const cleanups: Cleanup[] = [];
  const close = async () => {
    const errors: string[] = [];
    for (const c of cleanups.reverse()) await c().catch((err: Error) => errors.push(err.message));
    if (errors.length > 0) throw new Error(`forwarder shutdown: ${errors.join("; ")}`);
  };
  try {
    if (isPoolConfig(config)) {
      await runPoolForwarder(config, o, cleanups);
    } else {
      await setupSandbox(config, o, cleanups);
      const tls =
        config.tls !== undefined
          ? { ca: config.tls.caCert, cert: config.tls.cert, key: config.tls.key }
          : o.tlsFiles === undefined
            ? undefined
            : {
                ca: await fs.readFile(o.tlsFiles.caCertFile, "utf8"),
                cert: await fs.readFile(o.tlsFiles.certFile, "utf8"),
                key: await fs.readFile(o.tlsFiles.certKey, "utf8"),
              };
      if (tls === undefined)
        o.logger.warn("no TLS material in the configuration: serving the agent protocol without mutual TLS");
      const fwd = await startForwarder({
        listen: { host: o.listenHost, port: config.listenPort },
        agentSocketPath: o.agentSocketPath,
        tls,
        logger: o.logger,
      });
      cleanups.push(() => fwd.close());
    }
    return { port: config.listenPort, close };
  } catch (err) {
    await close().catch(() => {});
    throw err;
  }
}

/** The pod's side of the VM: its tunnel end and (local provider) the agent. */
async function setupSandbox(config: ForwarderConfig, o: RunForwarderOptions, cleanups: Cleanup[]): Promise<void> {
  let netns: string | undefined;
  if (config.podNetwork !== undefined) {
    const network = config.podNetwork;
    netns = await setupVmTunnel(network, { podNetnsName: o.podNetnsName });
    cleanups.push(() => teardownVmTunnel(network, { podNetnsName: o.podNetnsName }));
    o.logger.info({ netns, vni: network.vni, worker: network.workerAddress }, "pod network tunnel up");
  }
  if (o.startAgent !== undefined) {
    const agent = await o.startAgent(o.agentSocketPath, netns);
    cleanups.push(() => agent.close());
  }
}

async function runPoolForwarder(
  config: PoolForwarderConfig,
  o: RunForwarderOptions,
  cleanups: Cleanup[],
): Promise<void> {
  const tls = { ca: config.tls.caCert, cert: config.tls.cert, key: config.tls.key };
  const handler = new ClaimHandler({
    poolVm: config.poolVm,
    listenPort: config.listenPort,
    logger: o.logger,
    writeFile: o.writeFile ?? writeFileAtPath,
    // Runs once, for the one claim that gets this far.
    apply: async (sandbox) => {
      await setupSandbox(sandbox, o, cleanups);
      fwd.serveSandbox({ ca: sandbox.tls!.caCert, cert: sandbox.tls!.cert, key: sandbox.tls!.key });
    },
    // What the daemon's wait for a forwarder proves (a Health check answered through it), done
    // here on the agent's socket, the one every relayed connection dials: the claim's reply then
    // vouches for it, sparing the daemon a second handshake with this VM.
    agentReady: async (signal) => {
      const agent = await connectAgent(o.agentSocketPath, { retryForMs: 60_000, retryIntervalMs: 20, signal });
      try {
        await probeHealth(agent, 60_000, signal);
      } finally {
        agent.destroy();
      }
    },
  });
  const fwd = await startForwarder({
    listen: { host: o.listenHost, port: config.listenPort },
    agentSocketPath: o.agentSocketPath,
    tls,
    logger: o.logger,
    pool: { serverName: poolVmServerName(config.poolVm), onClaim: (socket) => handler.serve(socket) },
  });
  cleanups.push(() => fwd.close());
  o.logger.info({ poolVm: config.poolVm, port: config.listenPort }, "pool VM waiting to be claimed");
}

async function writeFileAtPath(file: CloudConfigFile): Promise<void> {
  const mode = parseInt(file.permissions, 8);
  await fs.mkdir(path.dirname(file.path), { recursive: true, mode: 0o755 });
  await fs.writeFile(file.path, file.content, { mode });
  await fs.chmod(file.path, mode);
}
