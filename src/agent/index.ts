// The minimal agent: stands in for kata-agent in a local "peer VM" and in tests. It runs
// container processes as plain child processes (no isolation) with the protocol semantics the
// Kata shim relies on.

export { type AgentInfo, DEFAULT_AGENT_INFO } from "./agent-info.ts";
export {
  type AgentHandle,
  type AgentServer,
  type AgentServerOptions,
  createAgentServer,
  DEFAULT_AGENT_SOCKET,
  type StartAgentOptions,
  startAgent,
} from "./agent-server.ts";
export { Container } from "./container.ts";
export { GuestSandbox, type GuestSandboxOptions } from "./guest-sandbox.ts";
export { type AgentLogger, silentLogger } from "./logger.ts";
export { ManagedProcess, type ProcessState, START_FAILED_STATUS } from "./managed-process.ts";
export { DEFAULT_OUTPUT_LIMIT, END_OF_STREAM_CODE, OutputStream } from "./output-stream.ts";
export { DEFAULT_NSENTER, type LaunchOptions } from "./process-launcher.ts";
export { type ProcessSpec, processSpecFromOci } from "./process-spec.ts";
