// Entry point of the agent-protocol-forwarder executable the peer-pod image ships (a Node
// single-executable application). One executable serves three roles so the image carries
// one Node runtime, not three:
//   agent-protocol-forwarder [flags]              the forwarder (default)
//   agent-protocol-forwarder provision [flags]    the boot-time provisioner (podvm-provision.service)
//   agent-protocol-forwarder minimal-agent [flags] the project's minimal agent (development images)
// The subcommand is taken off argv before the role's own argument parsing sees it.
const roles: Record<string, () => Promise<unknown>> = {
  provision: () => import("../../src/cli/podvm-provision.ts"),
  "minimal-agent": () => import("../../src/cli/minimal-agent.ts"),
};

const role = roles[process.argv[2] ?? ""];
if (role !== undefined) process.argv.splice(2, 1);
(role ?? (() => import("../../src/cli/agent-protocol-forwarder.ts")))().catch((err: unknown) => {
  process.stderr.write(`agent-protocol-forwarder: ${(err as Error).message}\n`);
  process.exit(1);
});
