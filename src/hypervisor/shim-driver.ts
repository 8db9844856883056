// Drives a pod's whole life the way the Kata shim does: Hypervisor calls on fresh connections,
// then one long-lived agent connection: the client side of hypervisor-service.ts and of the
// agent behind it. Used by peerpod-ctl, the tests and the benchmarks.
import { randomBytes } from "node:crypto";
import { AgentService } from "../gen/agent_pb.js";
import { Hypervisor } from "../gen/hypervisor_pb.js";
import { ANNOTATIONS } from "../kata/annotations.ts";
import { Client, Code, TtrpcError } from "../ttrpc/index.ts";

export interface RunPodOptions {
  readonly socketPath: string;
  readonly command: readonly string[];
  readonly sandboxId?: string;
  readonly annotations?: Record<string, string>;
  readonly networkNamespacePath?: string;
  readonly env?: readonly string[];
  readonly startTimeoutMs?: number;
  readonly stdout: (chunk: Uint8Array) => void;
  readonly stderr: (chunk: Uint8Array) => void;
  /** Progress lines for humans (stderr in the CLI). */
  readonly trace?: (line: string) => void;
}

const DEFAULT_ANNOTATIONS = {
  [ANNOTATIONS.podName]: "",
  [ANNOTATIONS.podNamespace]: "",
  [ANNOTATIONS.machineType]: "",
  [ANNOTATIONS.vcpus]: "0",
  [ANNOTATIONS.memory]: "0",
};

/** One Hypervisor call on its own connection, as the shim makes them. */
export async function onHypervisor<T>(socketPath: string, call: (client: Client) => Promise<T>): Promise<T> {
  const client = await Client.connect(socketPath, { connectTimeoutMs: 10_000 });
  try {
    return await call(client);
  } finally {
    client.close();
  }
}

async function dialAgent(path: string, timeoutMs: number): Promise<Client> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await Client.connect(path, { connectTimeoutMs: 5000 });
    } catch (err) {
      if (Date.now() > end) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Runs the command in a new peer pod and returns its exit status. The pod is always stopped. */
export async function runPod(o: RunPodOptions): Promise<number> {
  const trace = o.trace ?? (() => {});
  const id = o.sandboxId ?? randomBytes(32).toString("hex");
  const h = Hypervisor.method;
  const version = await onHypervisor(o.socketPath, (c) => c.call(h.version, { version: "0.0.1" }));
  trace(`hypervisor version ${version.version}`);
  const created = await onHypervisor(o.socketPath, (c) =>
    c.call(h.createVM, {
      id,
      annotations: { ...DEFAULT_ANNOTATIONS, ...o.annotations },
      networkNamespacePath: o.networkNamespacePath ?? "",
    }),
  );
  trace(`CreateVM ${id}: agent socket ${created.agentSocketPath}`);
  let agent: Client | undefined;
  try {
    const startTimeoutMs = Math.max(10_000, o.startTimeoutMs ?? 600_000);
    await onHypervisor(o.socketPath, (c) => c.call(h.startVM, { id }, { timeoutMs: startTimeoutMs }));
    trace("StartVM done");
    agent = await dialAgent(created.agentSocketPath, 30_000);
    const a = AgentService.method;
    await agent.call(a.createSandbox, { sandboxId: id, hostname: "peerpod" }, { timeoutMs: 300_000 });
    const cid = id;
    await agent.call(
      a.createContainer,
      {
        containerId: cid,
        execId: cid,
        OCI: {
          Version: "1.0.2",
          Process: {
            Args: [...o.command],
            Env: [...(o.env ?? ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"])],
            Cwd: "/",
          },
        },
      },
      { timeoutMs: 60_000 },
    );
    await agent.call(a.startContainer, { containerId: cid }, { timeoutMs: 60_000 });
    trace("container started");
    const pump = async (method: typeof a.readStdout, sink: (c: Uint8Array) => void) => {
      for (;;) {
        try {
          const r = await agent!.call(method, { containerId: cid, execId: cid, len: 32768 });
          if (r.data.length > 0) sink(r.data);
        } catch (err) {
          // The agent ends a stream with an error once the process has exited and all is read.
          if (err instanceof TtrpcError && err.code !== Code.UNAVAILABLE) return;
          throw err;
        }
      }
    };
    await Promise.all([pump(a.readStdout, o.stdout), pump(a.readStderr, o.stderr)]);
    const { status } = await agent.call(a.waitProcess, { containerId: cid, execId: cid });
    trace(`process exited with status ${status}`);
    await agent.call(a.removeContainer, { containerId: cid }, { timeoutMs: 60_000 });
    await agent.call(a.destroySandbox, {}, { timeoutMs: 60_000 });
    return status;
  } finally {
    agent?.close();
    await onHypervisor(o.socketPath, (c) => c.call(h.stopVM, { id }));
    trace("StopVM done");
  }
}
