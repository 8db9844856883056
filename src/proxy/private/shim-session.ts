// One connection from the Kata shim and the forwarder connection that serves it. Frames are
// relayed whole, never decoded, and never serialised: the shim keeps several long polls open
// at once on this one connection. The session answers on its own only when the forwarder
// cannot: every call then ends with a status naming the cause, and the shim's connection,
// which it never redials, stays up.
import type net from "node:net";
import {
  Code,
  encodeStatusFrame,
  type FrameHeader,
  HEADER_LENGTH,
  MAX_DATA_LENGTH,
  MessageType,
} from "../../ttrpc/raw.ts";
import type { Log } from "../../util/log.ts";
import { type ForwarderAddress, formatAddress } from "../forwarder-address.ts";
import { describeDialError } from "./dial-error.ts";
import { DialError, type ForwarderDialer } from "./forwarder-dialer.ts";
import { FrameSplitter, type SplitSink } from "./frame-splitter.ts";

export type RelayDirection = "to_vm" | "from_vm";

export interface ShimSessionOptions {
  readonly dialer: ForwarderDialer;
  readonly target: () => ForwarderAddress;
  /** Until when the session's first dial keeps retrying (the VM may still be booting). */
  readonly firstDialDeadline: number;
  /** How long a later dial (after the connection broke) keeps retrying. */
  readonly redialWindowMs: number;
  readonly retryIntervalMs: number;
  readonly attemptTimeoutMs: number;
  /** Frames held while dialing; more requests are answered RESOURCE_EXHAUSTED. */
  readonly maxQueuedFrames: number;
  readonly maxQueuedBytes: number;
  /** Set when the proxy is already stopped: every request is answered with this. */
  readonly stoppedReason?: string;
  readonly logger?: Log;
  readonly onBytes?: (direction: RelayDirection, n: number) => void;
}

interface QueuedFrame {
  readonly header: FrameHeader;
  readonly pieces: Buffer[];
}

export class ShimSession {
  private readonly shim: net.Socket;
  private readonly o: ShimSessionOptions;
  private readonly shimSplitter = new FrameSplitter();
  /** Request streams sent to the forwarder and not answered yet. */
  private readonly inFlight = new Set<number>();
  private queue: QueuedFrame[] = [];
  private queuedBytes = 0;
  private upstream: net.Socket | undefined;
  private upstreamAddress: ForwarderAddress | undefined;
  private dialing: AbortController | undefined;
  private firstDial = true;
  private lastStreamId = 0;
  private stoppedReason: string | undefined;
  private closed = false;
  /** Reading from the shim is paused until the forwarder connection drains. */
  private shimPaused = false;
  /** Reading from the forwarder is paused until the shim's connection drains. */
  private vmPaused = false;
  /** Bytes relayed during the chunk being handled (reported once per chunk). */
  private toVm = 0;
  private fromVm = 0;
  readonly whenClosed: Promise<void>;

  constructor(shim: net.Socket, options: ShimSessionOptions) {
    this.shim = shim;
    this.o = options;
    this.stoppedReason = options.stoppedReason;
    this.whenClosed = new Promise((resolve) => shim.once("close", () => resolve()));
    shim.on("data", (chunk: Buffer) => this.onShimData(chunk));
    shim.on("error", (err) => this.o.logger?.debug({ err: err.message }, "shim connection error"));
    shim.on("close", () => this.close());
    // Dial at once: the handshake overlaps with the shim preparing its first call.
    if (this.stoppedReason === undefined) this.startDial();
  }

  /** Stops relaying: calls under way and every later request are answered UNAVAILABLE. */
  stop(reason: string): void {
    if (this.closed || this.stoppedReason !== undefined) return;
    this.stoppedReason = reason;
    this.dialing?.abort();
    this.dialing = undefined;
    const upstream = this.upstream;
    this.upstream = undefined;
    upstream?.destroy();
    this.answerPending(reason);
  }

  /** Drops the shim's connection and the forwarder connection behind it. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.dialing?.abort();
    this.dialing = undefined;
    this.upstream?.destroy();
    this.upstream = undefined;
    this.queue = [];
    this.queuedBytes = 0;
    this.inFlight.clear();
    this.shim.destroy();
  }

  // ---- shim → forwarder

  private onShimData(chunk: Buffer): void {
    if (this.closed) return;
    const upstream = this.upstream;
    upstream?.cork();
    this.toVm = 0;
    this.shimSplitter.push(chunk, this.shimSink);
    upstream?.uncork();
    if (this.toVm > 0) this.o.onBytes?.("to_vm", this.toVm);
    // The forwarder reads slower than the shim writes: stop reading the shim until it catches up.
    if (upstream !== undefined && upstream === this.upstream && upstream.writableNeedDrain && !this.shimPaused) {
      this.shimPaused = true;
      this.shim.pause();
      upstream.once("drain", () => this.resumeShim());
    }
  }

  private resumeShim(): void {
    if (!this.shimPaused) return;
    this.shimPaused = false;
    if (!this.closed) this.shim.resume();
  }

  private readonly shimSink: SplitSink = {
    frame: (header, pieces) => this.onShimFrame(header, pieces),
    oversized: (header: FrameHeader) => {
      if (this.closed || header.type !== MessageType.Request) return;
      this.lastStreamId = Math.max(this.lastStreamId, header.streamId);
      this.answer(
        header.streamId,
        Code.RESOURCE_EXHAUSTED,
        `agent proxy: message of ${header.length} bytes exceeds the maximum message size of ${MAX_DATA_LENGTH}`,
      );
    },
  };

  private onShimFrame(header: FrameHeader, pieces: Buffer[]): void {
    if (this.closed) return;
    if (header.type === MessageType.Request) {
      const id = header.streamId;
      if (id % 2 === 0 || id <= this.lastStreamId)
        return this.protocolError(`request stream id ${id} is even or not increasing (last was ${this.lastStreamId})`);
      this.lastStreamId = id;
      if (this.stoppedReason !== undefined) return this.answer(id, Code.UNAVAILABLE, this.stoppedReason);
      if (this.upstream !== undefined) {
        this.inFlight.add(id);
        this.toVm += writePieces(this.upstream, pieces);
        return;
      }
      this.enqueue(header, pieces);
      return;
    }
    if (header.type === MessageType.Data) {
      // Data frames belong to streaming calls the agent protocol does not use; pass them on
      // unchanged, or drop them when there is nowhere to send them.
      if (this.upstream !== undefined) this.toVm += writePieces(this.upstream, pieces);
      else if (this.dialing !== undefined) this.enqueue(header, pieces);
      return;
    }
    this.protocolError(`unexpected message type ${header.type} from the shim`);
  }

  private enqueue(header: FrameHeader, pieces: Buffer[]): void {
    const size = HEADER_LENGTH + header.length;
    if (this.queue.length >= this.o.maxQueuedFrames || this.queuedBytes + size > this.o.maxQueuedBytes) {
      if (header.type === MessageType.Request)
        this.answer(
          header.streamId,
          Code.RESOURCE_EXHAUSTED,
          `agent proxy: too many requests waiting for the connection to the peer VM`,
        );
      return;
    }
    this.queue.push({ header, pieces });
    this.queuedBytes += size;
    if (this.dialing === undefined) this.startDial();
  }

  private protocolError(reason: string): void {
    this.o.logger?.warn({ reason }, "protocol error on a shim connection; closing it");
    this.close();
  }

  // ---- the forwarder connection

  private startDial(): void {
    const controller = new AbortController();
    this.dialing = controller;
    const deadline = this.firstDial ? this.o.firstDialDeadline : Date.now() + this.o.redialWindowMs;
    this.firstDial = false;
    const retry = {
      deadline,
      retryIntervalMs: this.o.retryIntervalMs,
      attemptTimeoutMs: this.o.attemptTimeoutMs,
      signal: controller.signal,
    };
    this.o.dialer.dial(this.o.target, retry).then(
      (socket) => this.onConnected(socket, controller),
      (err: unknown) => this.onDialFailed(err, controller),
    );
  }

  private onConnected(socket: net.Socket, controller: AbortController): void {
    if (this.dialing !== controller) {
      socket.destroy();
      return;
    }
    this.dialing = undefined;
    this.upstream = socket;
    this.vmPaused = false;
    const address = this.o.target();
    this.upstreamAddress = address;
    const splitter = new FrameSplitter();
    const sink: SplitSink = {
      frame: (header, pieces) => this.onVmFrame(socket, header, pieces),
      oversized: (header) => this.onVmOversized(socket, header),
    };
    socket.on("data", (chunk: Buffer) => this.onVmData(socket, splitter, sink, chunk));
    socket.on("error", (err) => this.upstreamLost(socket, describeDialError(err)));
    socket.on("close", () => this.upstreamLost(socket, "closed by the peer VM"));
    const queued = this.queue;
    this.queue = [];
    this.queuedBytes = 0;
    let bytes = 0;
    socket.cork();
    for (const q of queued) {
      if (q.header.type === MessageType.Request) this.inFlight.add(q.header.streamId);
      bytes += writePieces(socket, q.pieces);
    }
    socket.uncork();
    if (bytes > 0) this.o.onBytes?.("to_vm", bytes);
    this.o.logger?.debug({ forwarder: formatAddress(address), queued: queued.length }, "connected to the forwarder");
  }

  private onDialFailed(err: unknown, controller: AbortController): void {
    if (this.dialing !== controller) return;
    this.dialing = undefined;
    const message =
      err instanceof DialError
        ? `agent proxy: ${err.message}`
        : `agent proxy: peer VM ${formatAddress(this.o.target())} not reachable: ${describeDialError(err)}`;
    const waiting = this.queue.filter((q) => q.header.type === MessageType.Request).length;
    this.o.logger?.warn(
      { err: message, answered: waiting },
      "cannot reach the forwarder; answering its calls UNAVAILABLE",
    );
    this.answerPending(message);
  }

  private upstreamLost(socket: net.Socket, reason: string): void {
    if (this.upstream !== socket) return;
    this.upstream = undefined;
    socket.destroy();
    const address = this.upstreamAddress ?? this.o.target();
    const message = `agent proxy: connection to peer VM ${formatAddress(address)} lost: ${reason}`;
    this.o.logger?.warn(
      { err: message, answered: this.inFlight.size },
      "forwarder connection lost; answering calls under way UNAVAILABLE",
    );
    this.answerPending(message);
    // Reading may have been paused for this connection's sake.
    this.resumeShim();
  }

  // ---- forwarder → shim

  private onVmData(socket: net.Socket, splitter: FrameSplitter, sink: SplitSink, chunk: Buffer): void {
    if (this.upstream !== socket) return;
    this.fromVm = 0;
    this.shim.cork();
    splitter.push(chunk, sink);
    this.shim.uncork();
    if (this.fromVm > 0) this.o.onBytes?.("from_vm", this.fromVm);
    if (this.shim.writableNeedDrain && this.upstream === socket && !this.vmPaused) {
      this.vmPaused = true;
      socket.pause();
      this.shim.once("drain", () => {
        this.vmPaused = false;
        socket.resume();
      });
    }
  }

  private onVmFrame(socket: net.Socket, header: FrameHeader, pieces: Buffer[]): void {
    if (this.upstream !== socket) return;
    if (header.type === MessageType.Response) {
      // An answer to nothing we sent (the stream was answered here already): not the shim's.
      if (!this.inFlight.delete(header.streamId)) return;
    } else if (header.type !== MessageType.Data) {
      this.upstreamLost(socket, `protocol error: message type ${header.type} from the agent`);
      return;
    }
    this.fromVm += writePieces(this.shim, pieces);
  }

  private onVmOversized(socket: net.Socket, header: FrameHeader): void {
    if (this.upstream !== socket || !this.inFlight.delete(header.streamId)) return;
    this.answer(
      header.streamId,
      Code.RESOURCE_EXHAUSTED,
      `agent proxy: reply of ${header.length} bytes exceeds the maximum message size of ${MAX_DATA_LENGTH}`,
    );
  }

  // ---- answers of our own

  private answer(streamId: number, code: number, message: string): void {
    if (!this.closed) this.shim.write(encodeStatusFrame(streamId, code, message));
  }

  /** Ends every call under way or waiting for a connection with UNAVAILABLE. */
  private answerPending(message: string): void {
    const ids = [
      ...this.inFlight,
      ...this.queue.filter((q) => q.header.type === MessageType.Request).map((q) => q.header.streamId),
    ];
    this.inFlight.clear();
    this.queue = [];
    this.queuedBytes = 0;
    if (ids.length === 0 || this.closed) return;
    this.shim.cork();
    for (const id of ids) this.answer(id, Code.UNAVAILABLE, message);
    this.shim.uncork();
  }
}

/** Writes a frame's bytes as they arrived (views, no copy); returns the bytes written. */
function writePieces(socket: net.Socket, pieces: readonly Buffer[]): number {
  let n = 0;
  for (const p of pieces) {
    socket.write(p);
    n += p.length;
  }
  return n;
}
