// The agent socket of one sandbox: the Kata shim dials <PODS_DIR>/<sandbox>/agent.ttrpc and
// believes it talks to kata-agent; each of its connections is relayed to the forwarder in the
// sandbox's peer VM over its own (mutually authenticated) TLS connection.
import fs from "node:fs/promises";
import type net from "node:net";
import path from "node:path";
import { listenUnix } from "../ttrpc/raw.ts";
import type { Log } from "../util/log.ts";
import type { ForwarderAddress } from "./forwarder-address.ts";
import { ForwarderDialer } from "./private/forwarder-dialer.ts";
import { type RelayDirection, ShimSession } from "./private/shim-session.ts";
import type { ProxyTls } from "./proxy-tls.ts";

export type { RelayDirection };

export interface AgentProxyOptions {
  /** The socket the shim dials; its directory is created when missing. */
  readonly socketPath: string;
  /** The forwarder to relay to; asked at every dial. */
  readonly target: () => ForwarderAddress;
  /** Mutual TLS material; undefined relays in plaintext (DISABLE_TLS, development only). */
  readonly tls: ProxyTls | undefined;
  /** How long the first dial of a shim connection keeps retrying while the VM boots (PROXY_TIMEOUT). */
  readonly dialTimeoutMs: number;
  /** Pause between dial attempts; default 50 ms. */
  readonly retryIntervalMs?: number;
  /** How long a dial after a broken connection keeps retrying; default 1 s. */
  readonly redialWindowMs?: number;
  /** Longest one connect-and-handshake attempt may take; default 5 s. */
  readonly attemptTimeoutMs?: number;
  /** Frames one shim connection may queue while dialing; default 1024 (and 32 MiB). */
  readonly maxQueuedFrames?: number;
  readonly maxQueuedBytes?: number;
  readonly logger?: Log;
  /** Told of the bytes relayed each way, for metrics. */
  readonly onBytes?: (direction: RelayDirection, n: number) => void;
}

const DEFAULTS = {
  retryIntervalMs: 50,
  redialWindowMs: 1000,
  attemptTimeoutMs: 5000,
  maxQueuedFrames: 1024,
  maxQueuedBytes: 32 << 20,
};

export const SANDBOX_STOPPED = "agent proxy: sandbox stopped";

export class AgentProxy {
  private readonly o: AgentProxyOptions;
  private readonly dialer: ForwarderDialer;
  private readonly sessions = new Set<ShimSession>();
  private server: net.Server | undefined;
  private createdDir = false;
  private socketIdentity: { dev: number; ino: number } | undefined;
  private stopped = false;
  private lingerTimer: NodeJS.Timeout | undefined;
  private finishing: Promise<void> | undefined;
  private readonly closedPromise: Promise<void>;
  private resolveClosed!: () => void;

  constructor(options: AgentProxyOptions) {
    if (options.retryIntervalMs !== undefined && !(options.retryIntervalMs > 0))
      throw new RangeError(`retryIntervalMs must be positive, not ${options.retryIntervalMs}`);
    this.o = options;
    this.dialer = new ForwarderDialer(options.tls);
    this.closedPromise = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
  }

  get socketPath(): string {
    return this.o.socketPath;
  }

  /** Shim connections currently open. */
  get connectionCount(): number {
    return this.sessions.size;
  }

  /** Resolves once the socket is closed and its file removed. */
  get closed(): Promise<void> {
    return this.closedPromise;
  }

  /** Listens on the socket (mode 0600: only root, as the shim, may connect). */
  async start(): Promise<void> {
    if (this.server !== undefined || this.stopped)
      throw new Error(`agent proxy for ${this.o.socketPath} already started`);
    const dir = path.dirname(this.o.socketPath);
    this.createdDir = !(await exists(dir));
    const server = await listenUnix(this.o.socketPath, { mode: 0o600 });
    const stat = await fs.lstat(this.o.socketPath);
    this.socketIdentity = { dev: stat.dev, ino: stat.ino };
    this.server = server;
    server.on("connection", (socket) => this.accept(socket));
    server.on("error", (err) =>
      this.o.logger?.error({ err: err.message, socket: this.o.socketPath }, "agent socket listener failed"),
    );
  }

  /**
   * Stops relaying: calls under way, and every request on connections open now or made later,
   * are answered UNAVAILABLE ("sandbox stopped"). The socket keeps answering so for `lingerMs`
   * (a shim whose socket vanishes re-dials it in a tight loop until it exits), then is closed
   * and removed. Resolves once relaying has stopped; with lingerMs 0 the socket is gone too.
   * `closed` resolves when the socket is gone.
   */
  async stop(lingerMs = 0): Promise<void> {
    if (!this.stopped) {
      this.stopped = true;
      for (const s of this.sessions) s.stop(SANDBOX_STOPPED);
      if (lingerMs > 0 && this.server !== undefined) {
        this.lingerTimer = setTimeout(() => void this.finish(), lingerMs);
        // A daemon exiting meanwhile must not wait for it; listenUnix replaces the stale file.
        this.lingerTimer.unref();
        return;
      }
    } else if (lingerMs > 0) {
      return;
    }
    clearTimeout(this.lingerTimer);
    await this.finish();
  }

  private accept(socket: net.Socket): void {
    const session = new ShimSession(socket, {
      dialer: this.dialer,
      target: this.o.target,
      firstDialDeadline: Date.now() + this.o.dialTimeoutMs,
      redialWindowMs: this.o.redialWindowMs ?? DEFAULTS.redialWindowMs,
      retryIntervalMs: this.o.retryIntervalMs ?? DEFAULTS.retryIntervalMs,
      attemptTimeoutMs: this.o.attemptTimeoutMs ?? DEFAULTS.attemptTimeoutMs,
      maxQueuedFrames: this.o.maxQueuedFrames ?? DEFAULTS.maxQueuedFrames,
      maxQueuedBytes: this.o.maxQueuedBytes ?? DEFAULTS.maxQueuedBytes,
      stoppedReason: this.stopped ? SANDBOX_STOPPED : undefined,
      logger: this.o.logger,
      onBytes: this.o.onBytes,
    });
    this.sessions.add(session);
    void session.whenClosed.then(() => this.sessions.delete(session));
  }

  private finish(): Promise<void> {
    this.finishing ??= this.closeAndRemove().finally(() => this.resolveClosed());
    return this.finishing;
  }

  private async closeAndRemove(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    const closing =
      server === undefined ? Promise.resolve() : new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of this.sessions) s.close();
    await Promise.all([closing, ...[...this.sessions].map((s) => s.whenClosed)]);
    if (server !== undefined) await this.removeSocketFile();
  }

  /** Removes the socket file, unless another listener has put its own at the same path. */
  private async removeSocketFile(): Promise<void> {
    const file = this.o.socketPath;
    // Closing the listener usually unlinks the file already.
    const stat = await fs.lstat(file).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return undefined;
      throw err;
    });
    if (stat !== undefined && stat.dev === this.socketIdentity?.dev && stat.ino === this.socketIdentity.ino)
      await fs.rm(file, { force: true });
    if (this.createdDir) {
      // The directory was made for this socket; it goes with it unless something else lives there.
      await fs.rmdir(path.dirname(file)).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== "ENOENT" && err.code !== "ENOTEMPTY" && err.code !== "EEXIST") throw err;
      });
    }
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await fs.stat(p);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw err;
  }
}
