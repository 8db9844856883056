// 50 running pods across a SIGKILL of the control plane. The daemon runs on the aws provider
// against the local EC2 endpoint, whose instances are forwarders (mutual TLS, from each
// instance's user-data) in this process in front of one minimal agent, so 50 VMs cost 50 TLS
// listeners, not 50 processes. Each pod's shim is containerd's Go ttrpc client holding one agent
// connection with a WaitProcess in flight: all 50 survive the kill, answer while the control
// plane is down and after, and StopVM for all then leaves no instance, socket or record.
import fs from "node:fs/promises";
import path from "node:path";
import { create, type DescMessage, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { afterAll, describe, expect, it } from "vitest";
import { type AgentHandle, startAgent } from "../src/agent/index.ts";
import { type ForwarderHandle, startForwarder } from "../src/forwarder/index.ts";
import {
  CloseStdinRequestSchema,
  CreateContainerRequestSchema,
  RemoveContainerRequestSchema,
  StartContainerRequestSchema,
  WaitProcessRequestSchema,
  WaitProcessResponseSchema,
} from "../src/gen/agent_pb.js";
import { CheckRequestSchema, HealthCheckResponseSchema } from "../src/gen/health_pb.js";
import {
  CreateVMRequestSchema,
  CreateVMResponseSchema,
  StartVMRequestSchema,
  StopVMRequestSchema,
} from "../src/gen/hypervisor_pb.js";
import { forwarderConfigFromUserData } from "../src/userdata/index.ts";
import { awsEnv } from "./support/aws-fixture.ts";
import {
  cleanupDaemonDirs,
  type DaemonDirs,
  debugSandboxes,
  makeDaemonDirs,
  type RunningDaemon,
  startDaemon,
} from "./support/daemon-process.ts";
import { FakeEc2, type VmLauncher } from "./support/fake-ec2.ts";
import { buildGoPeer, type GoCallResult, type GoClient, startGoClient } from "./support/go-peer.ts";

const PODS = 50;
const OK = 0;

let dirs: DaemonDirs | undefined;
let daemon: RunningDaemon | undefined;
let fake: FakeEc2 | undefined;
let agent: AgentHandle | undefined;
const forwarders = new Map<string, ForwarderHandle>();
const shims: GoClient[] = [];

afterAll(async () => {
  // Every step runs even when one before it fails: the relay and the temp tree must go.
  const steps = await Promise.allSettled([
    ...shims.splice(0).map((s) => s.close()),
    daemon?.child.exitCode === null ? daemon.stop() : undefined,
  ]);
  const more = await Promise.allSettled([
    fake?.close(),
    ...[...forwarders.values()].map((f) => f.close()),
    agent?.close(),
  ]);
  if (dirs) expect(await cleanupDaemonDirs(dirs)).toEqual([]);
  for (const s of [...steps, ...more]) if (s.status === "rejected") throw s.reason;
});

const encode = <D extends DescMessage>(schema: D, init: MessageInitShape<D>) => toBinary(schema, create(schema, init));

async function hypervisorCall(method: string, payload: Uint8Array, timeoutMs = 0): Promise<GoCallResult> {
  const c = await startGoClient(dirs!.socketPath);
  try {
    return await c.call({ service: "hypervisor.Hypervisor", method, payload, timeoutMs });
  } finally {
    await c.close();
  }
}

/** Runs `fn` over `items`, `width` at a time. */
async function inBatches<T, R>(items: T[], width: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += width) out.push(...(await Promise.all(items.slice(i, i + width).map(fn))));
  return out;
}

describe(`${PODS} running pods across a SIGKILL of the control plane`, () => {
  it("every agent connection survives and answers, and StopVM for all leaves nothing", async () => {
    await buildGoPeer();
    dirs = await makeDaemonDirs("caa-many-");
    agent = await startAgent({ socketPath: path.join(dirs.root, "agent.sock") });
    // Addresses above the local provider's 127.64/10, from a random start: other test runs on
    // this machine use the same forwarder port.
    const base = 128 + Math.floor(Math.random() * 64);
    let next = 1 + Math.floor(Math.random() * 1000);
    const launcher: VmLauncher = {
      async launch(req) {
        const config = forwarderConfigFromUserData(req.userData);
        const n = next++;
        const host = `127.${base}.${(n >> 8) & 255}.${n & 255}`;
        const tls =
          config.tls === undefined ? undefined : { ca: config.tls.caCert, cert: config.tls.cert, key: config.tls.key };
        forwarders.set(
          req.instanceId,
          await startForwarder({ listen: { host, port: config.listenPort }, agentSocketPath: agent!.socketPath, tls }),
        );
        return { privateIp: host };
      },
      async terminate(id) {
        await forwarders.get(id)?.close();
        forwarders.delete(id);
      },
    };
    fake = await FakeEc2.start({ launcher, bootDelayMs: 0 });
    const env = Object.fromEntries(
      Object.entries({ ...awsEnv(fake), CLOUD_PROVIDER: "aws", PEERPODS_LIMIT_PER_NODE: String(PODS * 2) }).filter(
        (kv): kv is [string, string] => kv[1] !== undefined,
      ),
    );
    daemon = await startDaemon(dirs, env, [], undefined, { processGroup: true });

    const ids = Array.from({ length: PODS }, (_, i) => `pod${i}`);
    const pods = await inBatches(ids, 10, async (id) => {
      const created = await hypervisorCall(
        "CreateVM",
        encode(CreateVMRequestSchema, { id, annotations: {}, networkNamespacePath: "" }),
      );
      expect(created, id).toMatchObject({ code: OK });
      expect(await hypervisorCall("StartVM", encode(StartVMRequestSchema, { id }), 120_000), id).toMatchObject({
        code: OK,
      });
      const { agentSocketPath } = fromBinary(CreateVMResponseSchema, created.payload);
      const shim = await startGoClient(agentSocketPath);
      shims.push(shim);
      const call = async <D extends DescMessage>(method: string, schema: D, init: MessageInitShape<D>) => {
        const r = await shim.call({ service: "grpc.AgentService", method, payload: encode(schema, init) });
        expect(r.code, `${id} ${method}: ${r.message}`).toBe(OK);
        return r;
      };
      const proc = { containerId: id, execId: id };
      await call("CreateContainer", CreateContainerRequestSchema, {
        ...proc,
        OCI: { Process: { Args: ["sh", "-c", "read l; exit 3"], Cwd: "/", Env: ["PATH=/usr/bin:/bin"] } },
      });
      await call("StartContainer", StartContainerRequestSchema, { containerId: id });
      const waiting = call("WaitProcess", WaitProcessRequestSchema, proc);
      return { id, agentSocketPath, shim, call, proc, waiting };
    });
    const healthy = async (shim: GoClient) => {
      const r = await shim.call({ service: "grpc.Health", method: "Check", payload: encode(CheckRequestSchema, {}) });
      return r.code === OK ? fromBinary(HealthCheckResponseSchema, r.payload).status : `code ${r.code}: ${r.message}`;
    };
    const allHealthy = async () => (await inBatches(pods, 10, (p) => healthy(p.shim))).filter((s) => s !== 1);

    await daemon.killGroup("SIGKILL");
    expect(await allHealthy()).toEqual([]); // the data plane answers without the control plane
    daemon = await startDaemon(dirs, env, [], undefined, { processGroup: true });
    const listed = await debugSandboxes(daemon.probePort);
    expect(listed.filter((s) => s.state === "running").map((s) => s.id)).toHaveLength(PODS);
    expect(await allHealthy()).toEqual([]);

    // The WaitProcess each shim held across the kill answers now, with the exit status.
    const statuses = await inBatches(pods, 10, async (p) => {
      await p.call("CloseStdin", CloseStdinRequestSchema, p.proc);
      const status = fromBinary(WaitProcessResponseSchema, (await p.waiting).payload).status;
      await p.call("RemoveContainer", RemoveContainerRequestSchema, { containerId: p.id });
      await p.shim.close();
      return status;
    });
    expect(statuses).toEqual(pods.map(() => 3));
    shims.length = 0;

    const stops = await inBatches(pods, 10, (p) =>
      hypervisorCall("StopVM", encode(StopVMRequestSchema, { id: p.id })).then((r) => r.code),
    );
    expect(stops).toEqual(pods.map(() => OK));
    expect(await debugSandboxes(daemon.probePort)).toEqual([]);
    await fake.settle();
    for (let i = 0; i < 200 && fake.liveInstances().some((x) => x.state === "shutting-down"); i++)
      await new Promise((r) => setTimeout(r, 25));
    expect(fake.liveInstances()).toEqual([]);
    expect([...forwarders.keys()]).toEqual([]);
    expect(await fs.readdir(path.join(dirs.stateDir, "sandboxes"))).toEqual([]);
    // Agent sockets linger SOCKET_LINGER, then go with their folders.
    const left = async () => (await fs.readdir(dirs!.podsDir)).filter((n) => ids.includes(n));
    for (let i = 0; i < 100 && (await left()).length > 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await left()).toEqual([]);
  }, 600_000);
});
