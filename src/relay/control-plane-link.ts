// The relay's end of the Hypervisor path: each call a shim makes on the Hypervisor socket is
// passed, payload untouched, to the control plane over the connection it opened for that. While
// no control plane is attached (restarting, upgrading, crashed) calls wait, each until its own
// deadline; a call under way when the control plane's connection breaks is sent again to the
// next one, which is safe because every Hypervisor call is idempotent.
import type { Duplex } from "node:stream";
import { type CallContext, Code, RawClient, TtrpcError } from "../ttrpc/raw.ts";
import type { Log } from "../util/log.ts";

export interface ControlPlaneLinkOptions {
  /** How long a call without a deadline waits for a control plane before failing UNAVAILABLE. */
  readonly holdTimeoutMs: number;
  readonly logger: Log;
}

export class ControlPlaneLink {
  private readonly o: ControlPlaneLinkOptions;
  private current: RawClient | undefined;
  private readonly waiters = new Set<() => void>();
  private readonly clients = new Set<RawClient>();

  constructor(options: ControlPlaneLinkOptions) {
    this.o = options;
  }

  get attached(): boolean {
    return this.current !== undefined;
  }

  /** A control plane's Hypervisor connection: new calls go to it from now on. */
  attach(socket: Duplex): void {
    const client = new RawClient(socket);
    this.clients.add(client);
    this.current = client;
    client.onClose((err) => {
      this.clients.delete(client);
      if (this.current === client) {
        this.current = undefined;
        this.o.logger.warn(
          { reason: err.message },
          "control plane connection closed; Hypervisor calls wait for the next one",
        );
      }
    });
    this.o.logger.info("control plane attached; Hypervisor calls flow");
    for (const wake of [...this.waiters]) wake();
  }

  /** The control plane is leaving: new calls wait for the next one; calls under way finish. */
  detach(): void {
    if (this.current === undefined) return;
    this.current = undefined;
    this.o.logger.info("control plane detached; Hypervisor calls wait for the next one");
  }

  /** Relays one call, holding and resending it as the control plane comes and goes. */
  async call(ctx: CallContext, payload: Uint8Array): Promise<Uint8Array> {
    const name = `${ctx.service}/${ctx.method}`;
    const metadata = Object.fromEntries(ctx.metadata);
    for (let attempt = 1; ; attempt++) {
      const client = this.current ?? (await this.waitForControlPlane(ctx, name));
      let timeoutMs: number | undefined;
      if (ctx.deadline !== undefined) {
        timeoutMs = ctx.deadline - Date.now();
        if (timeoutMs <= 0)
          throw new TtrpcError(Code.DEADLINE_EXCEEDED, `${name}: deadline exceeded while the control plane was away`);
      }
      try {
        return await client.callRaw(ctx.service, ctx.method, payload, { timeoutMs, signal: ctx.signal, metadata });
      } catch (err) {
        // Only a broken connection is retried; an answer, even an error, is the answer.
        if (err instanceof TtrpcError && err.code === Code.UNAVAILABLE && client.closed && !ctx.signal.aborted) {
          this.o.logger.warn(
            { call: name, attempt },
            "control plane went away during the call; sending it again to the next one",
          );
          continue;
        }
        throw err;
      }
    }
  }

  /** Closes every control plane connection (the relay is stopping). */
  close(): void {
    this.current = undefined;
    for (const c of [...this.clients]) c.close();
  }

  private waitForControlPlane(ctx: CallContext, name: string): Promise<RawClient> {
    const holdMs = ctx.deadline === undefined ? this.o.holdTimeoutMs : Math.max(0, ctx.deadline - Date.now());
    this.o.logger.info({ call: name, holdMs }, "no control plane attached; holding the call");
    return new Promise((resolve, reject) => {
      const finish = (outcome: RawClient | TtrpcError) => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        ctx.signal.removeEventListener("abort", onAbort);
        if (outcome instanceof TtrpcError) reject(outcome);
        else resolve(outcome);
      };
      const wake = () => {
        if (this.current !== undefined) finish(this.current);
      };
      const onAbort = () => finish(toError(ctx.signal.reason, name));
      const timer = setTimeout(
        () =>
          finish(
            ctx.deadline === undefined
              ? new TtrpcError(
                  Code.UNAVAILABLE,
                  `${name}: no control plane (cloud-api-adaptor) attached for ${Math.round(holdMs / 1000)}s`,
                )
              : new TtrpcError(
                  Code.DEADLINE_EXCEEDED,
                  `${name}: deadline exceeded while waiting for the control plane (cloud-api-adaptor)`,
                ),
          ),
        holdMs,
      );
      this.waiters.add(wake);
      ctx.signal.addEventListener("abort", onAbort, { once: true });
      if (ctx.signal.aborted) onAbort();
      else wake();
    });
  }
}

function toError(reason: unknown, name: string): TtrpcError {
  if (reason instanceof TtrpcError) return reason;
  return new TtrpcError(Code.CANCELLED, `${name}: cancelled while waiting for the control plane`);
}
