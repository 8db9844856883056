import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { DaemonMetrics } from "./metrics.ts";

export interface Readiness {
  socketServed: boolean;
  reconciled: boolean;
  providerChecked: boolean;
  /** Why start-up reconciliation last failed, while it is being retried. */
  reconcileError?: string | undefined;
}

export interface DebugServerOptions {
  readonly port: number;
  /** The node's address: probes and /metrics answer there too (the kubelet and Prometheus
   * come from the node's network), /debug/* does not. Loopback serves everything. */
  readonly nodeAddress?: string | undefined;
  readonly metrics: DaemonMetrics;
  readonly readiness: () => Readiness;
  readonly sandboxes: () => unknown[];
  /** Connections open at once on each listener, and from one address; defaults 128 and 16. */
  readonly maxConnections?: number;
  readonly maxConnectionsPerAddress?: number;
  /** A connection silent this long, or a request not complete within it, is closed; default 10 s. */
  readonly idleTimeoutMs?: number;
}

/**
 * Probes, metrics and live state over HTTP, on loopback and on the node's address only (never
 * every address: a port open to all networks was open to anyone who could reach the node).
 * Probes and /metrics answer on both; /debug/* answers on loopback only, from loopback, since
 * it shows pod names and addresses.
 */
export async function startDebugServer(options: DebugServerOptions): Promise<{ port: number; close(): Promise<void> }> {
  const serve = (debug: boolean) => {
    const server = http.createServer((req, res) => {
      void handle(options, debug, req, res).catch((err: Error) => {
        if (!res.headersSent) send(res, 500, "text/plain", `internal error: ${err.message}\n`);
        else res.destroy();
      });
    });
    server.keepAliveTimeout = 5000;
    return server;
  };
  const loopback = serve(true);
  const perAddress = new Map<string, number>();
  limitConnections(loopback, options, perAddress);
  await listen(loopback, options.port, "127.0.0.1");
  const port = (loopback.address() as AddressInfo).port;
  const servers = [loopback];
  if (options.nodeAddress !== undefined && options.nodeAddress !== "127.0.0.1") {
    const node = serve(false);
    limitConnections(node, options, perAddress);
    try {
      await listen(node, port, options.nodeAddress);
    } catch (err) {
      await closeAll(servers);
      throw new Error(
        `cannot listen on the node's address ${options.nodeAddress} port ${port}: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
    servers.push(node);
  }
  return { port, close: () => closeAll(servers) };
}

function listen(server: http.Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
}

async function closeAll(servers: readonly http.Server[]): Promise<void> {
  await Promise.all(
    servers.map(
      (server) =>
        new Promise<void>((resolve) => {
          if (!server.listening) return resolve();
          server.close(() => resolve());
          server.closeAllConnections();
        }),
    ),
  );
}

async function handle(
  o: DebugServerOptions,
  debug: boolean,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): Promise<void> {
  const url = new URL(req.url ?? "/", "http://localhost");
  if (req.method !== "GET" && req.method !== "HEAD") return send(res, 405, "text/plain", "method not allowed\n");
  const r = o.readiness();
  switch (url.pathname) {
    case "/healthz":
      return send(res, 200, "text/plain", "ok\n");
    case "/startup":
      // Upstream's startup probe: ready once the Hypervisor socket is served.
      return r.socketServed ? send(res, 200, "text/plain", "ok\n") : send(res, 503, "text/plain", "starting\n");
    case "/readyz": {
      const ready = r.socketServed && r.reconciled && r.providerChecked;
      return send(res, ready ? 200 : 503, "application/json", `${JSON.stringify(r)}\n`);
    }
    case "/metrics":
      return send(res, 200, o.metrics.registry.contentType, await o.metrics.registry.metrics());
    default:
      if (url.pathname.startsWith("/debug/")) {
        if (!debug || !isLoopback(req.socket.remoteAddress))
          return send(res, 403, "text/plain", "debug endpoints answer loopback only\n");
        if (url.pathname === "/debug/sandboxes")
          return send(res, 200, "application/json", `${JSON.stringify(o.sandboxes(), null, 2)}\n`);
      }
      return send(res, 404, "text/plain", "not found\n");
  }
}

/**
 * The port answers anyone who can reach the node: without bounds, idle connections from outside
 * took every file descriptor the daemon had (CreateVM failed with EPIPE, /healthz timed out).
 * So connections are capped, in all and per client address (one host cannot take them all
 * from the kubelet), and a connection idle or slow to send its request is closed.
 */
function limitConnections(server: http.Server, o: DebugServerOptions, perAddress: Map<string, number>): void {
  const perAddressMax = o.maxConnectionsPerAddress ?? 16;
  const idleMs = o.idleTimeoutMs ?? 10_000;
  server.maxConnections = o.maxConnections ?? 128; // beyond it Node closes new connections at once
  server.headersTimeout = idleMs;
  server.requestTimeout = idleMs;
  server.setTimeout(idleMs); // no 'timeout' listener: a silent socket is destroyed
  server.on("connection", (socket: Socket) => {
    const address = socket.remoteAddress ?? "";
    const open = (perAddress.get(address) ?? 0) + 1;
    if (open > perAddressMax) {
      socket.destroy();
      return;
    }
    perAddress.set(address, open);
    socket.once("close", () => {
      const left = (perAddress.get(address) ?? 1) - 1;
      if (left === 0) perAddress.delete(address);
      else perAddress.set(address, left);
    });
  });
}

export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  return address === "::1" || address.startsWith("127.") || address.startsWith("::ffff:127.");
}

function send(res: http.ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { "content-type": type, "cache-control": "no-store" });
  res.end(body);
}
