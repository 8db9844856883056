// bench:lifecycle — what the daemon itself adds to a pod's start, and what 200 live sandboxes
// cost it in memory.
//
// The daemon runs as its own process on the aws provider against the local EC2 endpoint; the
// endpoint's "instances" are forwarders started in this bench process (each with the TLS
// material from its user-data, on its own 127.x address) in front of one shared minimal agent.
// So every pod takes the real path — CreateVM, StartVM (records, certificates, user-data,
// RunInstances, waiting for running, mutual-TLS readiness check, proxy), then a Health.Check
// through the pod's agent socket — while the daemon's process holds only the daemon.
//
// overhead = (CreateVM → StartVM → agent answering, as the client sees it) minus the
// provider's own time, which the daemon reports per StartVM as caa_startvm_phase_seconds
// {phase="provider_create"} and {phase="vm_boot"}; read from /metrics before and after each
// pod. rss_mb_200 = the daemon's VmRSS with 200 sandboxes running, each with an open agent
// connection as a shim keeps one; relay_rss_mb_200 = peerpod-relay's VmRSS then (it holds the
// sockets and connections; bench:relay measures it alone).
//
// The daemon runs as the container image runs it: compiled JavaScript from dist/ (`npm run
// build`, which `npm run bench:lifecycle` does first), not the TypeScript sources, with the
// Dockerfile ENTRYPOINT's Node flags.
import { existsSync } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startAgent } from "../src/agent/index.ts";
import { type ForwarderHandle, startForwarder } from "../src/forwarder/index.ts";
import { Health } from "../src/gen/health_pb.js";
import { Hypervisor } from "../src/gen/hypervisor_pb.js";
import { onHypervisor } from "../src/hypervisor/shim-driver.ts";
import { Client } from "../src/ttrpc/index.ts";
import { forwarderConfigFromUserData } from "../src/userdata/index.ts";
import { awsEnv } from "../test/support/aws-fixture.ts";
import { cleanupDaemonDirs, makeDaemonDirs, relayPid, startDaemon } from "../test/support/daemon-process.ts";
import { FakeEc2, type VmLauncher } from "../test/support/fake-ec2.ts";

const COMPILED_DAEMON = path.join(fileURLToPath(new URL("..", import.meta.url)), "dist/src/cli/cloud-api-adaptor.js");
if (!existsSync(COMPILED_DAEMON)) throw new Error(`${COMPILED_DAEMON} is missing: run npm run build first`);
const TIMED_PODS = Number(process.env.BENCH_PODS ?? 40);
const LIVE = 200;
const h = Hypervisor.method;

const dirs = await makeDaemonDirs("caa-bench-");
const agent = await startAgent({ socketPath: path.join(dirs.root, "agent.sock") });
const forwarders = new Map<string, ForwarderHandle>();
let nextAddress = 1;
const launcher: VmLauncher = {
  async launch(req) {
    const config = forwarderConfigFromUserData(req.userData);
    const n = nextAddress++;
    const host = `127.99.${n >> 8}.${n & 255}`;
    const tls =
      config.tls === undefined ? undefined : { ca: config.tls.caCert, cert: config.tls.cert, key: config.tls.key };
    forwarders.set(
      req.instanceId,
      await startForwarder({ listen: { host, port: config.listenPort }, agentSocketPath: agent.socketPath, tls }),
    );
    return { privateIp: host };
  },
  async terminate(id) {
    await forwarders.get(id)?.close();
    forwarders.delete(id);
  },
};
const fake = await FakeEc2.start({ launcher, bootDelayMs: 0 });
const env = Object.fromEntries(
  Object.entries({ ...awsEnv(fake), CLOUD_PROVIDER: "aws", PEERPODS_LIMIT_PER_NODE: "250", LOG_LEVEL: "warn" }).filter(
    (kv): kv is [string, string] => kv[1] !== undefined,
  ),
);
const daemon = await startDaemon(dirs, env, [], undefined, {
  entry: COMPILED_DAEMON,
  nodeFlags: ["--max-semi-space-size=1"],
});
const rssOf = async (pid = daemon.child.pid) =>
  Number(/VmRSS:\s+(\d+) kB/.exec(await fs.readFile(`/proc/${pid}/status`, "utf8"))![1]) / 1024;
const rssIdle = await rssOf();

async function providerSeconds(): Promise<number> {
  const text = (await daemon.probe("/metrics")).body;
  let sum = 0;
  for (const phase of ["provider_create", "vm_boot"]) {
    const m = new RegExp(`caa_startvm_phase_seconds_sum\\{phase="${phase}"\\} ([0-9.e+-]+)`).exec(text);
    sum += m ? Number(m[1]) : 0;
  }
  return sum;
}

const agents: Client[] = [];
async function startPod(id: string): Promise<number> {
  const t0 = performance.now();
  const { agentSocketPath } = await onHypervisor(dirs.socketPath, (c) =>
    c.call(h.createVM, { id, annotations: {}, networkNamespacePath: "" }),
  );
  await onHypervisor(dirs.socketPath, (c) => c.call(h.startVM, { id }, { timeoutMs: 120_000 }));
  const client = await Client.connect(agentSocketPath);
  await client.call(Health.method.check, {}, { timeoutMs: 30_000 });
  agents.push(client);
  return performance.now() - t0;
}

const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const totals: number[] = [];
const providers: number[] = [];
const overheads: number[] = [];
for (let i = 0; i < TIMED_PODS; i++) {
  const before = await providerSeconds();
  const total = await startPod(`timed${i}`);
  const provider = ((await providerSeconds()) - before) * 1000;
  if (i < 3) continue; // warm-up
  totals.push(total);
  providers.push(provider);
  overheads.push(total - provider);
}
const batch = 10;
for (let i = TIMED_PODS; i < LIVE; i += batch) {
  await Promise.all(Array.from({ length: Math.min(batch, LIVE - i) }, (_, k) => startPod(`live${i + k}`)));
}
const rssMb = await rssOf();
// peerpod-relay, which owns the 200 agent sockets and their connections (its Hello is harmless
// now: every sandbox is served already).
const relay = await relayPid(dirs.relaySocket);
if (relay === undefined) throw new Error("no peerpod-relay answers");
const relayRssMb = await rssOf(relay);

const rows = [
  ["measure", "p50 ms", "p99 ms"],
  ["CreateVM→StartVM→agent answering", pct(totals, 50).toFixed(2), pct(totals, 99).toFixed(2)],
  ["  provider's own time (create + VM boot)", pct(providers, 50).toFixed(2), pct(providers, 99).toFixed(2)],
  ["  daemon overhead (the rest)", pct(overheads, 50).toFixed(2), pct(overheads, 99).toFixed(2)],
];
for (const r of rows) console.log(r[0]!.padEnd(42) + r[1]!.padStart(10) + r[2]!.padStart(10));
console.log(
  `daemon RSS: ${rssIdle.toFixed(1)} MiB idle, ${rssMb.toFixed(1)} MiB with ${LIVE} live sandboxes (${os.cpus().length} CPUs)`,
);

for (const c of agents) c.close();
await Promise.all(
  Array.from({ length: Math.ceil(agents.length / batch) }, (_, b) => b).map(async (b) => {
    for (let k = b * batch; k < Math.min(agents.length, (b + 1) * batch); k++) {
      const id = k < TIMED_PODS ? `timed${k}` : `live${k}`;
      await onHypervisor(dirs.socketPath, (c) => c.call(h.stopVM, { id }));
    }
  }),
);
await daemon.stop();
await fake.close();
await agent.close();
await cleanupDaemonDirs(dirs);
console.log(
  `RESULT overhead_p50_ms=${pct(overheads, 50).toFixed(2)} rss_mb_200=${rssMb.toFixed(1)} relay_rss_mb_200=${relayRssMb.toFixed(1)}`,
);
