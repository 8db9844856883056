// agent-protocol-forwarder's core: accepts the daemon's proxy on FORWARDER_PORT (mutual TLS)
// and splices each connection to a fresh connection to kata-agent's Unix socket. Bytes pass
// untouched: the agent speaks ttrpc to the proxy directly, and the two ends close together.
import net from "node:net";
import tls from "node:tls";
import type { Logger } from "pino";
import { CLAIM_ALPN } from "../userdata/claim.ts";
import { connectAgent } from "./agent-connect.ts";
import { type ForwarderTlsMaterial, forwarderTlsOptions } from "./forwarder-tls.ts";

export interface ForwarderOptions {
  /** Where to listen; port 0 picks a free port (tests). */
  readonly listen: { readonly host: string; readonly port: number };
  /** kata-agent's socket, normally /run/kata-containers/agent.sock. */
  readonly agentSocketPath: string;
  /** Undefined serves plaintext (DISABLE_TLS, development only). */
  readonly tls: ForwarderTlsMaterial | undefined;
  readonly logger?: Logger;
  /** How long a connection waits for a missing agent socket; default 5 s. */
  readonly agentRetryForMs?: number;
  readonly agentRetryIntervalMs?: number;
  /**
   * A warm-pool VM: `tls` is the pool VM's identity, no agent traffic is relayed until
   * serveSandbox() is called, and connections that negotiate CLAIM_ALPN go to onClaim (before
   * and after the claim, so a second claim gets its refusal).
   */
  readonly pool?: { readonly onClaim: (socket: tls.TLSSocket) => void; readonly serverName: string };
}

export interface ForwarderHandle {
  /** The bound address (the port chosen when 0 was asked for). */
  readonly address: { readonly host: string; readonly port: number };
  readonly port: number;
  /** Connections being relayed now. */
  readonly connectionCount: number;
  /** Pool VM only: from now on present `material` (the sandbox's certificate) to agent
   * connections and relay them. Claim connections dialled with the pool VM's name keep the
   * pool identity. */
  serveSandbox(material: ForwarderTlsMaterial): void;
  /** Stops listening and closes every relayed connection. */
  close(): Promise<void>;
}

export async function startForwarder(o: ForwarderOptions): Promise<ForwarderHandle> {
  const log = o.logger;
  const closing = new AbortController();
  const pairs = new Set<{ client: net.Socket; agent: net.Socket | undefined }>();

  let serving = o.pool === undefined;
  const relay = (client: net.Socket) => {
    if (o.pool !== undefined && (client as tls.TLSSocket).alpnProtocol === CLAIM_ALPN)
      return o.pool.onClaim(client as tls.TLSSocket);
    if (!serving) {
      log?.warn(
        { peer: `${client.remoteAddress}:${client.remotePort}` },
        "pool VM not claimed yet: agent connection refused",
      );
      client.destroy();
      return;
    }
    const pair: { client: net.Socket; agent: net.Socket | undefined } = { client, agent: undefined };
    pairs.add(pair);
    client.setNoDelay(true);
    const peer = `${client.remoteAddress}:${client.remotePort}`;
    const gone = new AbortController();
    client.once("close", () => {
      pairs.delete(pair);
      gone.abort(new Error("client closed"));
      pair.agent?.destroy();
    });
    client.on("error", (err) => log?.debug({ peer, err: err.message }, "client connection error"));
    connectAgent(o.agentSocketPath, {
      retryForMs: o.agentRetryForMs ?? 5000,
      retryIntervalMs: o.agentRetryIntervalMs ?? 50,
      signal: AbortSignal.any([gone.signal, closing.signal]),
    }).then(
      (agent) => {
        if (client.destroyed) {
          agent.destroy();
          return;
        }
        pair.agent = agent;
        agent.on("error", (err) => log?.debug({ peer, err: err.message }, "agent connection error"));
        agent.once("close", () => client.destroy());
        // pipe() applies backpressure both ways; the data never needs to be looked at.
        client.pipe(agent);
        agent.pipe(client);
      },
      (err: Error) => {
        if (gone.signal.aborted || closing.signal.aborted) return;
        log?.warn(
          { peer, agentSocket: o.agentSocketPath, err: err.message },
          "agent socket not reachable; closing the client connection",
        );
        client.destroy();
      },
    );
  };

  if (o.pool !== undefined && o.tls === undefined) throw new Error("a pool VM's forwarder needs TLS material");
  const poolContext =
    o.pool === undefined || o.tls === undefined ? undefined : tls.createSecureContext(forwarderTlsOptions(o.tls));
  let sandboxContext: tls.SecureContext | undefined;
  const pool = o.pool;
  const server =
    o.tls === undefined
      ? net.createServer({ noDelay: true }, relay)
      : tls.createServer(
          {
            ...forwarderTlsOptions(o.tls),
            noDelay: true,
            ...(pool === undefined
              ? {}
              : {
                  ALPNProtocols: [CLAIM_ALPN],
                  // The claim client names the pool VM; the proxy names the sandbox.
                  SNICallback: (name: string, cb: (err: Error | null, ctx?: tls.SecureContext) => void) =>
                    cb(null, name === pool.serverName || sandboxContext === undefined ? poolContext : sandboxContext),
                }),
          },
          relay,
        );
  // Every accepted socket, handshaking or relaying, so close() need not wait for handshakes.
  const sockets = new Set<net.Socket>();
  server.on("connection", (socket: net.Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  // Failed handshakes (no client certificate, another CA's, a port scan) concern that client only.
  server.on("tlsClientError", (err: Error, socket: tls.TLSSocket) => {
    log?.warn(
      { peer: `${socket.remoteAddress}:${socket.remotePort}`, err: err.message },
      "TLS handshake with a client failed",
    );
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.listen.port, o.listen.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", (err) => log?.error({ err: err.message }, "forwarder listener failed"));
  const bound = server.address() as net.AddressInfo;
  log?.info(
    { address: bound.address, port: bound.port, tls: o.tls !== undefined, agentSocket: o.agentSocketPath },
    "forwarder listening",
  );

  let closed: Promise<void> | undefined;
  return {
    address: { host: bound.address, port: bound.port },
    port: bound.port,
    serveSandbox(material) {
      if (o.pool === undefined) throw new Error("serveSandbox: not a pool VM's forwarder");
      sandboxContext = tls.createSecureContext(forwarderTlsOptions(material));
      // Clients that send no server name get the sandbox's certificate from now on.
      (server as tls.Server).setSecureContext(forwarderTlsOptions(material));
      serving = true;
    },
    get connectionCount() {
      return pairs.size;
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        closing.abort(new Error("forwarder closing"));
        server.close(() => resolve());
        for (const p of pairs) {
          p.client.destroy();
          p.agent?.destroy();
        }
        for (const s of sockets) s.destroy();
      });
      return closed;
    },
  };
}
