// The minimal agent as a ttrpc server: AgentService and Health over one GuestSandbox.

import fs from "node:fs/promises";
import { listenUnix, Server, type ServerOptions } from "../ttrpc/index.ts";
import { type AgentInfo, DEFAULT_AGENT_INFO } from "./agent-info.ts";
import { registerAgentService } from "./agent-service.ts";
import { GuestSandbox } from "./guest-sandbox.ts";
import { registerHealthService } from "./health-service.ts";
import { type AgentLogger, silentLogger } from "./logger.ts";

export const DEFAULT_AGENT_SOCKET = "/run/kata-containers/agent.sock";

export interface AgentServerOptions {
  /** Network namespace path container processes start in (the VM's podns); none by default. */
  readonly netns?: string | undefined;
  /** nsenter binary used with `netns`. */
  readonly nsenterPath?: string | undefined;
  readonly logger?: AgentLogger | undefined;
  readonly info?: AgentInfo | undefined;
  /** Bytes buffered per output stream before a process's pipe is paused. */
  readonly outputLimit?: number | undefined;
  readonly server?: ServerOptions | undefined;
}

export interface AgentServer {
  readonly server: Server;
  readonly sandbox: GuestSandbox;
}

/** Builds the server and its sandbox without listening anywhere. */
export function createAgentServer(options: AgentServerOptions = {}): AgentServer {
  const logger = options.logger ?? silentLogger;
  const info = options.info ?? DEFAULT_AGENT_INFO;
  const sandbox = new GuestSandbox({
    launch: { netns: options.netns, nsenterPath: options.nsenterPath },
    logger,
    ...(options.outputLimit === undefined ? {} : { outputLimit: options.outputLimit }),
  });
  const server = new Server({
    onProtocolError: (err) => logger.warn({ err: err.message }, "connection dropped for a protocol error"),
    ...options.server,
  });
  registerAgentService(server, sandbox, info);
  registerHealthService(server, info);
  return { server, sandbox };
}

export interface StartAgentOptions extends AgentServerOptions {
  /** Unix socket to serve on (created 0600); default /run/kata-containers/agent.sock. */
  readonly socketPath?: string | undefined;
  /** How long close() lets calls under way answer before dropping connections. */
  readonly shutdownGraceMs?: number | undefined;
}

export interface AgentHandle extends AgentServer {
  readonly socketPath: string;
  /** Kills every process, answers or drops the calls under way, closes the socket. */
  close(): Promise<void>;
}

export async function startAgent(options: StartAgentOptions = {}): Promise<AgentHandle> {
  if (options.netns !== undefined && options.netns !== "") await checkNetns(options.netns);
  const socketPath = options.socketPath ?? DEFAULT_AGENT_SOCKET;
  const agent = createAgentServer(options);
  const listener = await listenUnix(socketPath);
  agent.server.serve(listener);
  const logger = options.logger ?? silentLogger;
  logger.info({ socket: socketPath, netns: options.netns }, "agent listening");
  let closing: Promise<void> | undefined;
  const close = async () => {
    let failure: unknown;
    try {
      await agent.sandbox.shutdown();
    } catch (err) {
      failure = err;
    }
    // Long polls have been answered by the shutdown above; what is left gets the grace.
    await agent.server.shutdown(options.shutdownGraceMs ?? 2000);
    logger.info({ socket: socketPath }, "agent stopped");
    if (failure !== undefined) throw failure;
  };
  return {
    ...agent,
    socketPath,
    close: () => (closing ??= close()),
  };
}

async function checkNetns(netns: string): Promise<void> {
  try {
    await fs.stat(netns);
  } catch (err) {
    throw new Error(`network namespace ${netns} cannot be used: ${(err as Error).message}`, { cause: err });
  }
}
