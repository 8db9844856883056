// Wires peerpod-relay: the Hypervisor socket (calls passed to the control plane), the control
// socket (the control plane's commands and its Hypervisor connection) and the agent sockets.
import fs from "node:fs/promises";
import path from "node:path";
import { listenUnix, RawServer } from "../ttrpc/raw.ts";
import type { Log } from "../util/log.ts";
import { AgentSockets } from "./agent-sockets.ts";
import { ControlPlaneLink } from "./control-plane-link.ts";
import { readPreface } from "./control-preface.ts";
import {
  CONTROL_SERVICE,
  type ControlCalls,
  type ControlMethod,
  decodeJson,
  encodeJson,
  HYPERVISOR_METHODS,
  HYPERVISOR_SERVICE,
} from "./control-protocol.ts";
import type { RelayConfig } from "./relay-config.ts";

export const RELAY_VERSION = "0.1.0";

export interface RelayHandle {
  readonly sockets: AgentSockets;
  readonly link: ControlPlaneLink;
  /** Closes every socket; the shims' agent connections end with it. */
  stop(): Promise<void>;
}

export async function runRelay(config: RelayConfig, logger: Log): Promise<RelayHandle> {
  const started = Date.now();
  const podsDir = path.resolve(config.podsDir);
  await fs.mkdir(podsDir, { recursive: true, mode: 0o755 });
  const sockets = new AgentSockets({ podsDir, dialTimeoutMs: config.proxyTimeoutMs, logger });
  const link = new ControlPlaneLink({ holdTimeoutMs: config.holdTimeoutMs, logger });

  const control = new RawServer({
    onProtocolError: (err) => logger.warn({ err: err.message }, "control socket: protocol error, connection closed"),
  });
  const handle = <M extends ControlMethod>(
    method: M,
    fn: (req: ControlCalls[M][0]) => ControlCalls[M][1] | Promise<ControlCalls[M][1]>,
  ) =>
    control.registerRaw(CONTROL_SERVICE, method, async (payload) =>
      encodeJson(await fn(decodeJson<ControlCalls[M][0]>(payload, method))),
    );
  handle("Hello", (req) => {
    sockets.setClientTls(req.clientTls ?? null);
    logger.info({ controlPlane: req.controlPlane, tls: req.clientTls != null }, "control plane said hello");
    return {
      pid: process.pid,
      version: RELAY_VERSION,
      hypervisorSocket: path.resolve(config.socketPath),
      podsDir,
      uptimeSeconds: Math.floor((Date.now() - started) / 1000),
    };
  });
  handle("Serve", async (req) => ({ changed: await sockets.serve(req) }));
  handle("Stop", async (req) => ({ wasServed: await sockets.stop(req.sandboxId, Number(req.lingerMs) || 0) }));
  handle("List", () => ({ sandboxes: sockets.list(), bytes: sockets.bytes }));
  handle("Detach", () => {
    link.detach();
    return {};
  });

  const hypervisor = new RawServer({
    onProtocolError: (err) => logger.warn({ err: err.message }, "hypervisor socket: protocol error, connection closed"),
  });
  for (const m of HYPERVISOR_METHODS)
    hypervisor.registerRaw(HYPERVISOR_SERVICE, m, (payload, ctx) => link.call(ctx, payload));

  const controlListener = await listenUnix(config.relaySocket, { mode: 0o600 });
  controlListener.on("connection", (socket) => {
    readPreface(socket, 10_000).then(
      (kind) => {
        if (kind === "control") control.handleConnection(socket);
        else link.attach(socket);
        socket.resume();
      },
      (err: Error) => {
        logger.warn({ err: err.message }, "control socket: connection refused");
        socket.destroy();
      },
    );
  });
  hypervisor.serve(await listenUnix(config.socketPath, { mode: 0o600 }));
  logger.info({ hypervisorSocket: config.socketPath, relaySocket: config.relaySocket, podsDir }, "relay serving");

  return {
    sockets,
    link,
    async stop() {
      // A listener's close completes only once its connections are gone: close those too.
      const listenerClosed = new Promise<void>((resolve) => controlListener.close(() => resolve()));
      link.close();
      await Promise.all([hypervisor.close(), control.close()]);
      await sockets.closeAll();
      await listenerClosed;
    },
  };
}
