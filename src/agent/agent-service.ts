// The grpc.AgentService calls the minimal agent answers. Each handler only translates between
// the protocol and the GuestSandbox; calls not listed here answer UNIMPLEMENTED naming the method.

import { AgentService } from "../gen/agent_pb.js";
import { Code, type Server, TtrpcError } from "../ttrpc/index.ts";
import type { AgentInfo } from "./agent-info.ts";
import type { GuestSandbox } from "./guest-sandbox.ts";
import { processSpecFromOci } from "./process-spec.ts";

/** Largest `len` a read honours: the reply must stay well under ttrpc's 4 MiB message limit. */
export const MAX_READ_LENGTH = 1 << 20;
/** What a read of `len` 0 returns at most (the shim always asks for 32 KiB). */
export const DEFAULT_READ_LENGTH = 32 << 10;

export function registerAgentService(server: Server, sandbox: GuestSandbox, info: AgentInfo): void {
  const readLength = (len: number) => (len === 0 ? DEFAULT_READ_LENGTH : Math.min(len, MAX_READ_LENGTH));

  server.register(AgentService, {
    createSandbox: (req) => {
      sandbox.create(req.sandboxId, req.hostname);
      return {};
    },
    destroySandbox: async () => {
      await sandbox.destroy();
      return {};
    },
    getGuestDetails: () => ({
      // 0: no memory hotplug in a peer VM.
      memBlockSizeBytes: 0n,
      supportMemHotplugProbe: false,
      agentDetails: { version: info.version, initDaemon: false, supportsSeccomp: false },
    }),
    getOOMEvent: (_req, ctx) => sandbox.waitForOOMEvent(ctx.signal),

    createContainer: (req) => {
      const spec = processSpecFromOci(req.OCI?.Process, `container ${req.containerId}`);
      sandbox.createContainer(req.containerId, req.execId, spec);
      return {};
    },
    startContainer: async (req) => {
      await sandbox.startContainer(req.containerId);
      return {};
    },
    removeContainer: async (req, ctx) => {
      await sandbox.removeContainer(req.containerId, req.timeout * 1000, ctx.signal);
      return {};
    },
    execProcess: async (req) => {
      if (req.execId === "")
        throw new TtrpcError(Code.INVALID_ARGUMENT, `exec in container ${req.containerId}: exec id is empty`);
      const spec = processSpecFromOci(req.process, `exec ${req.execId} in container ${req.containerId}`);
      await sandbox.execProcess(req.containerId, req.execId, spec);
      return {};
    },
    signalProcess: async (req) => {
      await sandbox.signalProcess(req.containerId, req.execId, req.signal);
      return {};
    },
    waitProcess: async (req, ctx) => ({ status: await sandbox.waitProcess(req.containerId, req.execId, ctx.signal) }),

    readStdout: async (req, ctx) => ({
      data: await sandbox.process(req.containerId, req.execId).stdout.read(readLength(req.len), ctx.signal),
    }),
    readStderr: async (req, ctx) => ({
      data: await sandbox.process(req.containerId, req.execId).stderr.read(readLength(req.len), ctx.signal),
    }),
    writeStdin: async (req) => ({ len: await sandbox.process(req.containerId, req.execId).writeStdin(req.data) }),
    closeStdin: (req) => {
      sandbox.process(req.containerId, req.execId).closeStdin();
      return {};
    },

    // Network and storage set-up belongs to the real agent; the shim only needs them to succeed.
    updateInterface: (req) => req.interface ?? {},
    updateRoutes: (req) => req.routes ?? {},
    listInterfaces: () => ({ Interfaces: [] }),
    listRoutes: () => ({ Routes: [] }),
    addARPNeighbors: () => ({}),
    updateEphemeralMounts: () => ({}),
    removeStaleVirtiofsShareMounts: () => ({}),
    setPolicy: () => ({}),
    copyFile: () => ({}),
    onlineCPUMem: () => ({}),
    setGuestDateTime: () => ({}),
  });
}
