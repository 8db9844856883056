// bench:relay — peerpod-relay's own resident memory: idle, and serving 200 sandboxes, each with
// an open shim connection that has made a call (so each holds its mutual-TLS connection to the
// forwarder), as on a busy node. The relay is the real binary, driven over its control socket;
// the forwarder and the test agent run in this process, one for all sandboxes. The relay runs
// as the image runs it: compiled JavaScript (`npm run build`, which `npm run bench:relay` does).
//
// Run: node bench/relay.ts   (last line: RESULT relay_rss_mb_idle=… relay_rss_mb_200=…)
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startForwarder } from "../src/forwarder/index.ts";
import { Health } from "../src/gen/health_pb.js";
import { Client } from "../src/ttrpc/index.ts";
import { startRelayProcess } from "../test/support/relay-process.ts";
import { startRelayTestAgent } from "../test/support/relay-test-agent.ts";
import { createTestPki } from "../test/support/test-certs.ts";

const SANDBOXES = 200;

const dir = await mkdtemp(join(tmpdir(), "bench-relay-"));
const pki = await createTestPki();
const agent = await startRelayTestAgent(join(dir, "agent.sock"));
const forwarder = await startForwarder({
  listen: { host: "127.0.0.1", port: 0 },
  agentSocketPath: agent.socketPath,
  tls: pki.server,
});
const relay = await startRelayProcess(dir, pki.client);
const clients: Client[] = [];
let idle = 0;
let listening = 0;
let served = 0;
let failure: unknown;
try {
  await new Promise((r) => setTimeout(r, 1000));
  idle = await relay.rssMb();
  const sockets: string[] = [];
  for (let i = 0; i < SANDBOXES; i++) sockets.push(await relay.serve(`sb${i}`, "127.0.0.1", forwarder.port));
  await new Promise((r) => setTimeout(r, 1000));
  listening = await relay.rssMb();
  for (let i = 0; i < SANDBOXES; i += 20) {
    await Promise.all(
      sockets.slice(i, i + 20).map(async (socketPath) => {
        const client = await Client.connect(socketPath);
        clients.push(client);
        await client.call(Health.method.check, {}, { timeoutMs: 30_000 });
      }),
    );
  }
  await new Promise((r) => setTimeout(r, 1000));
  served = await relay.rssMb();
} catch (err) {
  failure = err;
}
for (const c of clients) c.close();
const stopped = await Promise.allSettled([relay.stop(), forwarder.close(), agent.close()]);
await rm(dir, { recursive: true, force: true });
if (failure !== undefined) throw failure;
for (const s of stopped) if (s.status === "rejected") throw s.reason;
console.log(
  `peerpod-relay RSS: ${idle.toFixed(1)} MiB idle, ${listening.toFixed(1)} MiB serving ${SANDBOXES} sockets, ${served.toFixed(1)} MiB with an open connection on each`,
);
console.log(`RESULT relay_rss_mb_idle=${idle.toFixed(1)} relay_rss_mb_200=${served.toFixed(1)}`);
