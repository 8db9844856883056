// The probe port listens on loopback and on the node's address, never on every address;
// /debug/* answers on loopback only. 127.0.0.2 stands for the node's address (any 127/8
// address reaches this host), 127.0.0.3 for every other address of the node.
import http from "node:http";
import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { startDebugServer } from "./debug-server.ts";
import { DaemonMetrics } from "./metrics.ts";

const NODE = "127.0.0.2";
const OTHER = "127.0.0.3";
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

async function server(nodeAddress: string | undefined) {
  const s = await startDebugServer({
    port: 0,
    nodeAddress,
    metrics: new DaemonMetrics(() => ({ created: 0, starting: 0, running: 1, failed: 0, stopping: 0 })),
    readiness: () => ({ socketServed: true, reconciled: true, providerChecked: true }),
    sandboxes: () => [{ id: "pod-a" }],
  });
  closers.push(() => s.close());
  return s;
}

function get(host: string, port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path, agent: false }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
  });
}

function connects(host: string, port: number): Promise<boolean | string> {
  return new Promise((resolve) => {
    const s = net.createConnection({ host, port });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

describe("probe port", () => {
  it("listens on loopback and the node's address only; /debug answers on loopback only", async () => {
    const { port } = await server(NODE);
    expect(await get(NODE, port, "/healthz")).toBe(200);
    expect(await get(NODE, port, "/readyz")).toBe(200);
    expect(await get(NODE, port, "/metrics")).toBe(200);
    expect(await get(NODE, port, "/debug/sandboxes")).toBe(403);
    expect(await get("127.0.0.1", port, "/healthz")).toBe(200);
    expect(await get("127.0.0.1", port, "/debug/sandboxes")).toBe(200);
    expect(await connects(OTHER, port)).toBe("ECONNREFUSED");
  });

  it("listens on loopback alone without a node address", async () => {
    const { port } = await server(undefined);
    expect(await get("127.0.0.1", port, "/debug/sandboxes")).toBe(200);
    expect(await connects(NODE, port)).toBe("ECONNREFUSED");
  });

  it("names the node address it cannot listen on", async () => {
    await expect(server("192.0.2.123")).rejects.toThrow(/cannot listen on the node's address 192\.0\.2\.123 port \d+/);
  });
});
