import type net from "node:net";
import type { Duplex } from "node:stream";
import { ServerConnection } from "./private/server-connection.ts";
import { type RawHandler, ServiceRegistry } from "./service-registry.ts";

export interface ServerOptions {
  /** Calls one connection may have under way; more are answered RESOURCE_EXHAUSTED. */
  maxConcurrentCalls?: number;
  /** Connections served at once; more are closed on accept. */
  maxConnections?: number;
  /** Time a started frame may take to arrive completely before the connection is dropped. */
  frameTimeoutMs?: number;
  /** Told about every connection dropped for a protocol violation (for logs). */
  onProtocolError?: (err: Error) => void;
}

const DEFAULTS = {
  maxConcurrentCalls: 4096,
  maxConnections: 4096,
  frameTimeoutMs: 30_000,
};

/**
 * A ttrpc server: register handlers, then serve listeners or single connections. Each
 * connection runs its calls concurrently; a slow handler never delays another call. Raw
 * handlers only, so it loads no protobuf runtime (the relay relies on that); Server adds
 * generated services.
 */
export class RawServer {
  protected readonly registry = new ServiceRegistry();
  private readonly connections = new Set<ServerConnection>();
  private readonly listeners = new Set<net.Server>();
  private readonly options: Required<ServerOptions>;
  private stopping = false;

  constructor(options: ServerOptions = {}) {
    this.options = { ...DEFAULTS, onProtocolError: () => {}, ...options };
  }

  /** A handler on raw bytes, for services without generated code. */
  registerRaw(service: string, method: string, handler: RawHandler): this {
    this.registry.registerRaw(service, method, handler);
    return this;
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /** Serves every connection the listener accepts, until shutdown. */
  serve(listener: net.Server): void {
    this.listeners.add(listener);
    listener.on("connection", (socket) => this.handleConnection(socket));
    listener.on("close", () => this.listeners.delete(listener));
  }

  /** Serves one already-open connection (e.g. a TLS socket or a test pair). */
  handleConnection(socket: Duplex): void {
    if (this.stopping || this.connections.size >= this.options.maxConnections) {
      socket.destroy();
      return;
    }
    const conn = new ServerConnection(socket, this.registry, this.options);
    this.connections.add(conn);
    void conn.whenClosed.then(() => this.connections.delete(conn));
  }

  /**
   * Stops accepting, lets calls under way answer, then closes. Connections still busy after
   * `graceMs` are closed with their calls aborted.
   */
  async shutdown(graceMs = 10_000): Promise<void> {
    this.stopping = true;
    const listenersClosed = [...this.listeners].map((l) => new Promise<void>((resolve) => l.close(() => resolve())));
    const conns = [...this.connections];
    for (const c of conns) c.drain();
    const drained = Promise.all(conns.map((c) => c.whenClosed));
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    });
    await Promise.race([drained, expired]);
    clearTimeout(timer);
    for (const c of this.connections) c.destroy();
    await Promise.all([...listenersClosed, ...[...this.connections].map((c) => c.whenClosed)]);
  }

  /** Closes everything at once, aborting calls under way. */
  async close(): Promise<void> {
    return this.shutdown(0);
  }
}
