// The minimal agent: stands in for kata-agent in a local "peer VM" and in tests. It runs
// container processes as plain child processes (no isolation) with the protocol semantics the
// Kata shim relies on.
export {
  createAgentServer,
  startAgent,
  DEFAULT_AGENT_SOCKET,
  type AgentHandle,
  type AgentServer,
  type AgentServerOptions,
  type StartAgentOptions,
} from "./agent-server.ts";
export { DEFAULT_AGENT_INFO, type AgentInfo } from "./agent-info.ts";
export { GuestSandbox, type GuestSandboxOptions } from "./guest-sandbox.ts";
export { Container } from "./container.ts";
export { ManagedProcess, START_FAILED_STATUS, type ProcessState } from "./managed-process.ts";
export { OutputStream, DEFAULT_OUTPUT_LIMIT, END_OF_STREAM_CODE } from "./output-stream.ts";
export { processSpecFromOci, type ProcessSpec } from "./process-spec.ts";
export { DEFAULT_NSENTER, type LaunchOptions } from "./process-launcher.ts";
export { silentLogger, type AgentLogger } from "./logger.ts";
