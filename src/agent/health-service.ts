// grpc.Health: the shim's liveness poll (every 5 s) and the version query.

import { Health, HealthCheckResponse_ServingStatus } from "../gen/health_pb.js";
import type { Server } from "../ttrpc/index.ts";
import type { AgentInfo } from "./agent-info.ts";

export function registerHealthService(server: Server, info: AgentInfo): void {
  server.register(Health, {
    check: () => ({ status: HealthCheckResponse_ServingStatus.SERVING }),
    version: () => ({ grpcVersion: info.protocolVersion, agentVersion: info.version }),
  });
}
