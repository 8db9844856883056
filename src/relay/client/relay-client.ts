// The control plane's end of the relay: one control connection (commands) and one Hypervisor
// connection (the relay sends the shims' calls down it), both opened by us on the relay's
// control socket. When the relay goes away both are opened again as soon as it is back (or, with
// a `start` function, after starting a new one), and `onReconnected` lets the caller serve its
// sandboxes again before Hypervisor calls flow.
import type net from "node:net";
import type { Logger } from "pino";
import { Code, connectUnix, RawClient, type RawServer, TtrpcError } from "../../ttrpc/raw.ts";
import { sleep } from "../../util/sleep.ts";
import { CONTROL_PREFACE, HYPERVISOR_PREFACE } from "../control-preface.ts";
import {
  type ClientTlsPem,
  CONTROL_SERVICE,
  type ControlCalls,
  type ControlMethod,
  decodeJson,
  encodeJson,
} from "../control-protocol.ts";

export type RelayHello = ControlCalls["Hello"][1];

export interface RelayClientOptions {
  readonly relaySocket: string;
  readonly clientTls: ClientTlsPem | null;
  /** Who we are, for the relay's log. */
  readonly controlPlane: string;
  /** How the relay must be configured; a relay serving other paths is refused. */
  readonly expect: { readonly hypervisorSocket: string; readonly podsDir: string };
  /** Starts a relay when none answers; without it we wait for one (Kubernetes runs it). */
  readonly start?: () => Promise<void>;
  readonly logger: Logger;
  /** Pause between connection attempts; default 100 ms. */
  readonly retryIntervalMs?: number;
  /** Least time between two starts of a relay; default 5 s. */
  readonly restartIntervalMs?: number;
}

export class RelayClient {
  private readonly o: RelayClientOptions;
  private control: RawClient | undefined;
  private hypervisorSocket: net.Socket | undefined;
  private backend: RawServer | undefined;
  private closed = false;
  private reconnecting: Promise<void> | undefined;
  private lastStart = 0;
  private reconnected: (() => Promise<void>) | undefined;
  private readonly waiters = new Set<() => void>();
  hello: RelayHello | undefined;

  private constructor(options: RelayClientOptions) {
    this.o = options;
  }

  /** Connects (starting a relay when allowed and none answers) and says hello. */
  static async connect(options: RelayClientOptions, signal: AbortSignal): Promise<RelayClient> {
    const c = new RelayClient(options);
    await c.establish(signal);
    return c;
  }

  /** Called after every reconnection to a (possibly new) relay, before Hypervisor calls flow again. */
  onReconnected(fn: () => Promise<void>): void {
    this.reconnected = fn;
  }

  /** One command; waits up to timeoutMs for the relay when it is away. */
  async call<M extends ControlMethod>(
    method: M,
    request: ControlCalls[M][0],
    timeoutMs = 30_000,
  ): Promise<ControlCalls[M][1]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const control = this.control ?? (await this.waitForControl(deadline, method));
      try {
        const reply = await control.callRaw(CONTROL_SERVICE, method, encodeJson(request), {
          timeoutMs: Math.max(1, deadline - Date.now()),
        });
        return decodeJson<ControlCalls[M][1]>(reply, `relay ${method} reply`);
      } catch (err) {
        // A relay that went away mid-call: the commands are idempotent, so send it again.
        if (
          err instanceof TtrpcError &&
          err.code === Code.UNAVAILABLE &&
          control.closed &&
          Date.now() < deadline &&
          !this.closed
        )
          continue;
        throw err instanceof TtrpcError
          ? new TtrpcError(err.code, `relay ${method}: ${err.statusMessage}`, { cause: err })
          : err;
      }
    }
  }

  /** Serves Hypervisor calls the relay passes to us on `server`, from now until detach. */
  async attachHypervisor(server: RawServer): Promise<void> {
    this.backend = server;
    await this.openHypervisor();
  }

  /** We are leaving: the relay holds new Hypervisor calls for the next control plane. */
  async detach(): Promise<void> {
    this.backend = undefined;
    if (this.control !== undefined)
      await this.call("Detach", {}, 2000).catch((err: Error) =>
        this.o.logger.warn({ err: err.message }, "relay Detach failed"),
      );
  }

  /** Closes our connections; the relay and the sockets it serves stay. */
  close(): void {
    this.closed = true;
    this.backend = undefined;
    this.control?.close();
    this.hypervisorSocket?.destroy();
    for (const w of [...this.waiters]) w();
  }

  private async openHypervisor(): Promise<void> {
    if (this.backend === undefined || this.closed) return;
    if (this.hypervisorSocket !== undefined && !this.hypervisorSocket.destroyed) return;
    const socket = await connectUnix(this.o.relaySocket, 5000);
    socket.write(HYPERVISOR_PREFACE);
    this.hypervisorSocket = socket;
    socket.once("close", () => {
      if (this.hypervisorSocket === socket) this.hypervisorSocket = undefined;
      // Still wanted and the relay is up: it dropped only this connection.
      if (this.backend !== undefined && !this.closed && this.control !== undefined && !this.control.closed) {
        void sleep(this.o.retryIntervalMs ?? 100)
          .then(() => this.openHypervisor())
          .catch((err: Error) =>
            this.o.logger.warn({ err: err.message }, "could not reopen the Hypervisor connection to the relay"),
          );
      }
    });
    this.backend.handleConnection(socket);
  }

  private waitForControl(deadline: number, method: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        if (this.control !== undefined) resolve(this.control);
        else reject(new TtrpcError(Code.UNAVAILABLE, `relay ${method}: no relay at ${this.o.relaySocket}`));
      };
      const timer = setTimeout(done, Math.max(0, deadline - Date.now()));
      this.waiters.add(() => {
        if (this.control !== undefined || this.closed) done();
      });
    });
  }

  /** Connects, starting a relay if allowed, until the signal aborts; then says hello. */
  private async establish(signal: AbortSignal | undefined): Promise<void> {
    let lastError = "";
    for (;;) {
      if (this.closed) throw new Error("relay client closed");
      if (signal?.aborted) throw new Error(`no relay answered at ${this.o.relaySocket}: ${lastError}`);
      let socket: net.Socket | undefined;
      try {
        socket = await connectUnix(this.o.relaySocket, 5000);
      } catch (err) {
        lastError = (err as Error).message;
        const now = Date.now();
        if (this.o.start !== undefined && now - this.lastStart >= (this.o.restartIntervalMs ?? 5000)) {
          this.lastStart = now;
          this.o.logger.info({ relaySocket: this.o.relaySocket }, "no relay answers; starting peerpod-relay");
          await this.o.start();
        }
        await sleep(this.o.retryIntervalMs ?? 100, signal).catch(() => {});
        continue;
      }
      socket.write(CONTROL_PREFACE);
      const control = new RawClient(socket);
      try {
        const reply = await control.callRaw(
          CONTROL_SERVICE,
          "Hello",
          encodeJson({ clientTls: this.o.clientTls, controlPlane: this.o.controlPlane }),
          { timeoutMs: 10_000 },
        );
        this.hello = decodeJson<RelayHello>(reply, "relay Hello reply");
      } catch (err) {
        control.close();
        lastError = (err as Error).message;
        await sleep(this.o.retryIntervalMs ?? 100, signal).catch(() => {});
        continue;
      }
      const mismatch = this.mismatch(this.hello);
      if (mismatch !== undefined) {
        control.close();
        throw new Error(mismatch);
      }
      this.control = control;
      control.onClose((err) => this.lost(control, err.message));
      this.o.logger.info(
        { relayPid: this.hello.pid, relayVersion: this.hello.version, relayUptimeSeconds: this.hello.uptimeSeconds },
        "connected to peerpod-relay",
      );
      for (const w of [...this.waiters]) w();
      return;
    }
  }

  private mismatch(h: RelayHello): string | undefined {
    if (h.hypervisorSocket !== this.o.expect.hypervisorSocket) {
      return `the relay at ${this.o.relaySocket} (pid ${h.pid}) serves the Hypervisor socket ${h.hypervisorSocket}, but REMOTE_HYPERVISOR_ENDPOINT is ${this.o.expect.hypervisorSocket}`;
    }
    if (h.podsDir !== this.o.expect.podsDir)
      return `the relay at ${this.o.relaySocket} (pid ${h.pid}) serves agent sockets under ${h.podsDir}, but PODS_DIR is ${this.o.expect.podsDir}`;
    return undefined;
  }

  /** The relay went away: connect again (in the background) and let the caller resync. */
  private lost(control: RawClient, reason: string): void {
    if (this.control !== control || this.closed) return;
    this.control = undefined;
    this.o.logger.warn({ reason }, "lost the relay; reconnecting");
    this.reconnecting ??= this.reconnect().finally(() => (this.reconnecting = undefined));
  }

  private async reconnect(): Promise<void> {
    while (!this.closed && this.control === undefined) {
      try {
        await this.establish(undefined);
        await this.reconnected?.();
        await this.openHypervisor();
        this.o.logger.info("relay back: sandboxes served again, Hypervisor calls flow");
      } catch (err) {
        if (this.closed) return;
        this.o.logger.error({ err: (err as Error).message }, "could not reconnect to the relay; trying again");
        (this.control as RawClient | undefined)?.close();
        await sleep(1000);
      }
    }
  }
}
