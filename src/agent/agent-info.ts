// What the agent says about itself in GetGuestDetails and Health.Version.

export interface AgentInfo {
  /** The agent version reported to the shim. */
  readonly version: string;
  /** The agent protocol version reported by Health.Version. */
  readonly protocolVersion: string;
}

export const DEFAULT_AGENT_INFO: AgentInfo = Object.freeze({
  version: "0.1.0-minimal",
  protocolVersion: "0.0.1",
});
