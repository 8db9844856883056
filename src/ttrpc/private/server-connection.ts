import type { Duplex } from "node:stream";
import { fitsTimer } from "../../util/timer-limit.ts";
import type { CallContext } from "../call-context.ts";
import { Code } from "../codes.ts";
import { MessageType } from "../constants.ts";
import { decodeRequest, encodeResponseFrame, encodeStatusFrame, type RequestEnvelope } from "../envelope.ts";
import { type Frame, FrameDecoder, type FrameHeader } from "../frame.ts";
import type { ServiceRegistry } from "../service-registry.ts";
import { TtrpcError, toTtrpcError } from "../ttrpc-error.ts";

export interface ServerConnectionOptions {
  readonly maxConcurrentCalls: number;
  /** A frame that has started arriving must be complete within this time (slow writers). */
  readonly frameTimeoutMs: number;
  readonly onProtocolError: (err: Error) => void;
}

interface ActiveCall {
  readonly controller: AbortController;
  timer: NodeJS.Timeout | undefined;
}

const EMPTY = new Uint8Array(0);

/**
 * One accepted connection: frames in, calls dispatched concurrently, responses out in the
 * order they finish. A protocol violation ends this connection only.
 */
export class ServerConnection {
  private readonly decoder = new FrameDecoder();
  private readonly active = new Map<number, ActiveCall>();
  private lastStreamId = 0;
  private draining = false;
  private closed = false;
  private frameTimer: NodeJS.Timeout | undefined;
  private readonly closedPromise: Promise<void>;
  private readonly socket: Duplex;
  private readonly registry: ServiceRegistry;
  private readonly options: ServerConnectionOptions;

  constructor(socket: Duplex, registry: ServiceRegistry, options: ServerConnectionOptions) {
    this.socket = socket;
    this.registry = registry;
    this.options = options;
    this.closedPromise = new Promise((resolve) => socket.once("close", () => resolve()));
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", () => this.teardown());
    socket.on("close", () => this.teardown());
    socket.on("drain", () => socket.resume());
  }

  get activeCalls(): number {
    return this.active.size;
  }

  get whenClosed(): Promise<void> {
    return this.closedPromise;
  }

  /** Stops taking new calls; the connection closes once the calls under way have answered. */
  drain(): void {
    this.draining = true;
    if (this.active.size === 0) this.close();
  }

  /** Closes at once; calls under way are aborted and their answers dropped. */
  close(): void {
    if (this.closed) return;
    this.teardown();
    this.socket.end();
    // A peer that never reads would keep the socket half-open forever.
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  /** Drops the connection without waiting for the peer. */
  destroy(): void {
    this.teardown();
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.decoder.push(chunk, this.sink);
    // A frame in this chunk may have ended the connection: a timer armed now would outlive it
    // and report a second, bogus violation.
    if (!this.closed) this.watchPartialFrame();
  }

  private readonly sink = {
    frame: (frame: Frame) => this.onFrame(frame),
    oversized: (header: FrameHeader) => {
      if (this.closed) return;
      this.write(
        encodeStatusFrame(
          header.streamId,
          Code.RESOURCE_EXHAUSTED,
          `message length ${header.length} exceeds maximum message size of ${4 << 20}`,
        ),
      );
    },
  };

  private watchPartialFrame(): void {
    if (!this.decoder.partial) {
      if (this.frameTimer !== undefined) clearTimeout(this.frameTimer);
      this.frameTimer = undefined;
      return;
    }
    if (this.frameTimer !== undefined) return;
    this.frameTimer = setTimeout(() => {
      this.options.onProtocolError(
        new Error(`incomplete frame for ${this.options.frameTimeoutMs} ms (${this.decoder.buffered} bytes buffered)`),
      );
      this.socket.destroy();
    }, this.options.frameTimeoutMs);
    this.frameTimer.unref();
  }

  private onFrame(frame: Frame): void {
    if (this.closed) return;
    switch (frame.type) {
      case MessageType.Request:
        this.onRequest(frame);
        return;
      case MessageType.Data:
        // Data belongs to streams, which this server refuses at their request; nothing to do.
        return;
      default:
        this.violation(frame.streamId, `unexpected message type ${frame.type} from a client`);
    }
  }

  private onRequest(frame: Frame): void {
    const id = frame.streamId;
    if (id % 2 === 0) return this.violation(id, `stream id ${id} is even; clients must use odd ids`);
    if (id <= this.lastStreamId)
      return this.violation(id, `stream id ${id} reused or not increasing (last was ${this.lastStreamId})`);
    this.lastStreamId = id;
    let req: RequestEnvelope;
    try {
      req = decodeRequest(frame.data);
    } catch (err) {
      return this.violation(id, `malformed request: ${(err as Error).message}`);
    }
    if (frame.flags !== 0) {
      return this.answer(
        id,
        new TtrpcError(Code.UNIMPLEMENTED, `${req.service}/${req.method}: streaming calls are not supported`),
      );
    }
    if (this.draining) return this.answer(id, new TtrpcError(Code.UNAVAILABLE, "server is shutting down"));
    if (this.active.size >= this.options.maxConcurrentCalls) {
      return this.answer(
        id,
        new TtrpcError(
          Code.RESOURCE_EXHAUSTED,
          `more than ${this.options.maxConcurrentCalls} concurrent calls on one connection`,
        ),
      );
    }
    const handler = this.registry.lookup(req.service, req.method);
    if (handler instanceof TtrpcError) return this.answer(id, handler);
    this.dispatch(id, req, handler);
  }

  private dispatch(
    id: number,
    req: RequestEnvelope,
    handler: Exclude<ReturnType<ServiceRegistry["lookup"]>, TtrpcError>,
  ): void {
    const controller = new AbortController();
    const call: ActiveCall = { controller, timer: undefined };
    this.active.set(id, call);
    let deadline: number | undefined;
    if (req.timeoutNano > 0) {
      const ms = req.timeoutNano / 1e6;
      deadline = Date.now() + ms;
      // A deadline beyond what a timer can hold (about 24 days) would fire at once; none fires.
      if (fitsTimer(ms)) {
        call.timer = setTimeout(() => {
          const err = new TtrpcError(
            Code.DEADLINE_EXCEEDED,
            `${req.service}/${req.method}: deadline of ${formatMs(ms)} exceeded`,
          );
          this.finish(id, err);
          controller.abort(err);
        }, ms);
      }
    } else if (req.timeoutNano < 0) {
      this.active.delete(id);
      return this.answer(
        id,
        new TtrpcError(Code.DEADLINE_EXCEEDED, `${req.service}/${req.method}: deadline already passed`),
      );
    }
    const ctx: CallContext = {
      service: req.service,
      method: req.method,
      signal: controller.signal,
      deadline,
      metadata: toMetadataMap(req.metadata),
    };
    let result: Promise<Uint8Array>;
    try {
      result = Promise.resolve(handler(req.payload, ctx));
    } catch (err) {
      result = Promise.reject(err);
    }
    result.then(
      (payload) => this.finish(id, payload),
      (err: unknown) => this.finish(id, toTtrpcError(err)),
    );
  }

  private finish(id: number, outcome: Uint8Array | TtrpcError): void {
    const call = this.active.get(id);
    if (call === undefined) return; // already answered (deadline) or connection gone
    if (call.timer !== undefined) clearTimeout(call.timer);
    this.active.delete(id);
    this.answer(id, outcome);
    if (this.draining && this.active.size === 0) this.close();
  }

  private answer(id: number, outcome: Uint8Array | TtrpcError): void {
    if (this.closed) return;
    if (outcome instanceof TtrpcError) {
      this.write(encodeStatusFrame(id, outcome.code, outcome.statusMessage));
      return;
    }
    this.write(encodeResponseFrame(id, { status: undefined, payload: outcome ?? EMPTY }));
  }

  private write(buf: Buffer): void {
    // A client that stops reading must not make us buffer without bound: stop reading its
    // requests until it catches up.
    if (!this.socket.write(buf)) this.socket.pause();
  }

  private violation(id: number, message: string): void {
    this.options.onProtocolError(new Error(message));
    this.answer(id, new TtrpcError(Code.INVALID_ARGUMENT, message));
    this.close();
  }

  private teardown(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.frameTimer !== undefined) clearTimeout(this.frameTimer);
    const reason = new TtrpcError(Code.CANCELLED, "connection closed");
    for (const call of this.active.values()) {
      if (call.timer !== undefined) clearTimeout(call.timer);
      call.controller.abort(reason);
    }
    this.active.clear();
  }
}

function toMetadataMap(kvs: RequestEnvelope["metadata"]): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const { key, value } of kvs) {
    const values = map.get(key);
    if (values === undefined) map.set(key, [value]);
    else values.push(value);
  }
  return map;
}

function formatMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(ms % 1000 === 0 ? 0 : 3)}s` : `${Math.round(ms)}ms`;
}
