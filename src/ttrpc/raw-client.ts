import net from "node:net";
import type { Duplex } from "node:stream";
import { fitsTimer } from "../util/timer-limit.ts";
import { Code } from "./codes.ts";
import { HEADER_LENGTH, MAX_DATA_LENGTH, MAX_STREAM_ID, MessageType } from "./constants.ts";
import { decodeResponse, encodeRequestFrame, type KeyValue } from "./envelope.ts";
import { type Frame, FrameDecoder, type FrameHeader } from "./frame.ts";
import { TtrpcError } from "./ttrpc-error.ts";

export interface CallOptions {
  /** Sent as timeout_nano and enforced here too: the call fails DEADLINE_EXCEEDED when it passes. */
  timeoutMs?: number;
  /** Aborting fails the call CANCELLED (the server is not told; ttrpc has no cancel message). */
  signal?: AbortSignal;
  metadata?: Record<string, string | readonly string[]>;
}

export interface ClientOptions {
  /** Refuse locally to send a request over the 4 MiB limit (RESOURCE_EXHAUSTED), as newer Go
   * clients do; off, the request goes out and the server rejects it. */
  checkSendSize?: boolean;
}

interface Pending {
  resolve(payload: Uint8Array): void;
  reject(err: TtrpcError): void;
}

/**
 * A ttrpc client on one connection: many calls at once, each on its own odd stream id.
 * When the connection breaks every call under way fails UNAVAILABLE. Raw payloads only, so it
 * loads no protobuf runtime (the relay relies on that); Client adds typed calls.
 */
export class RawClient {
  private readonly socket: Duplex;
  private readonly decoder = new FrameDecoder();
  private readonly pending = new Map<number, Pending>();
  private nextStreamId = 1;
  private closedError: TtrpcError | undefined;
  private readonly closeListeners: ((err: TtrpcError) => void)[] = [];
  private readonly checkSendSize: boolean;

  constructor(socket: Duplex, options: ClientOptions = {}) {
    this.socket = socket;
    this.checkSendSize = options.checkSendSize ?? true;
    socket.on("data", (chunk: Buffer) => this.decoder.push(chunk, this.sink));
    socket.on("error", (err) => this.fail(`connection error: ${err.message}`));
    socket.on("close", () => this.fail("connection closed"));
  }

  /** Connects to a Unix socket path. */
  static connect(socketPath: string, options: ClientOptions & { connectTimeoutMs?: number } = {}): Promise<RawClient> {
    return connectUnix(socketPath, options.connectTimeoutMs).then((socket) => new RawClient(socket, options));
  }

  get closed(): boolean {
    return this.closedError !== undefined;
  }

  get pendingCalls(): number {
    return this.pending.size;
  }

  /** Called once when the connection ends, with the reason. */
  onClose(listener: (err: TtrpcError) => void): void {
    if (this.closedError !== undefined) listener(this.closedError);
    else this.closeListeners.push(listener);
  }

  /** A unary call on raw payload bytes; resolves with the reply payload. */
  callRaw(service: string, method: string, payload: Uint8Array, options: CallOptions = {}): Promise<Uint8Array> {
    if (this.closedError !== undefined) return Promise.reject(this.closedError);
    if (options.signal?.aborted)
      return Promise.reject(new TtrpcError(Code.CANCELLED, `${service}/${method}: cancelled before it was sent`));
    const streamId = this.nextStreamId;
    if (streamId > MAX_STREAM_ID)
      return Promise.reject(
        new TtrpcError(Code.RESOURCE_EXHAUSTED, "stream ids exhausted on this connection; reconnect"),
      );
    const timeoutMs = options.timeoutMs ?? 0;
    const frame = encodeRequestFrame(streamId, {
      service,
      method,
      payload,
      timeoutNano: timeoutMs > 0 ? Math.round(timeoutMs * 1e6) : 0,
      metadata: toKeyValues(options.metadata),
    });
    if (this.checkSendSize && frame.length - HEADER_LENGTH > MAX_DATA_LENGTH) {
      return Promise.reject(
        new TtrpcError(
          Code.RESOURCE_EXHAUSTED,
          `${service}/${method}: message length ${frame.length - HEADER_LENGTH} exceeds maximum message size of ${MAX_DATA_LENGTH}`,
        ),
      );
    }
    this.nextStreamId += 2;
    return new Promise<Uint8Array>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const signal = options.signal;
      const onAbort = () => settle(new TtrpcError(Code.CANCELLED, `${service}/${method}: cancelled`));
      const settle = (outcome: Uint8Array | TtrpcError) => {
        if (!this.pending.delete(streamId)) return;
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        if (outcome instanceof TtrpcError) reject(outcome);
        else resolve(outcome);
      };
      this.pending.set(streamId, { resolve: settle, reject: settle });
      // A deadline beyond what a timer can hold (about 24 days) is as good as none here.
      if (timeoutMs > 0 && fitsTimer(timeoutMs)) {
        timer = setTimeout(
          () =>
            settle(new TtrpcError(Code.DEADLINE_EXCEEDED, `${service}/${method}: deadline of ${timeoutMs}ms exceeded`)),
          timeoutMs,
        );
      }
      signal?.addEventListener("abort", onAbort, { once: true });
      this.socket.write(frame);
    });
  }

  /** Closes the connection; calls under way fail UNAVAILABLE. */
  close(): void {
    this.fail("client closed");
    this.socket.destroy();
  }

  private readonly sink = {
    frame: (frame: Frame) => this.onFrame(frame),
    oversized: (header: FrameHeader) =>
      this.pending
        .get(header.streamId)
        ?.reject(
          new TtrpcError(
            Code.RESOURCE_EXHAUSTED,
            `reply of ${header.length} bytes exceeds maximum message size of ${MAX_DATA_LENGTH}`,
          ),
        ),
  };

  private onFrame(frame: Frame): void {
    if (frame.type !== MessageType.Response) {
      // Data frames belong to streams, which this client never opens.
      if (frame.type === MessageType.Data) return;
      this.fail(`protocol error: unexpected message type ${frame.type} from the server`);
      this.socket.destroy();
      return;
    }
    const call = this.pending.get(frame.streamId);
    if (call === undefined) return; // late answer to a call that already timed out or was cancelled
    let resp;
    try {
      resp = decodeResponse(frame.data);
    } catch (err) {
      call.reject(new TtrpcError(Code.INTERNAL, `malformed response: ${(err as Error).message}`));
      return;
    }
    if (resp.status !== undefined && resp.status.code !== Code.OK)
      call.reject(new TtrpcError(resp.status.code, resp.status.message));
    else call.resolve(resp.payload);
  }

  private fail(reason: string): void {
    if (this.closedError !== undefined) return;
    const err = new TtrpcError(Code.UNAVAILABLE, reason);
    this.closedError = err;
    for (const call of [...this.pending.values()]) call.reject(err);
    for (const l of this.closeListeners.splice(0)) l(err);
  }
}

/** Opens a Unix socket connection; rejects UNAVAILABLE naming the path. */
export function connectUnix(socketPath: string, connectTimeoutMs?: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    const timer =
      connectTimeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            socket.destroy();
            reject(new TtrpcError(Code.UNAVAILABLE, `connect ${socketPath}: timed out after ${connectTimeoutMs}ms`));
          }, connectTimeoutMs);
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.off("error", onError);
      resolve(socket);
    });
    const onError = (err: Error) => {
      clearTimeout(timer);
      reject(new TtrpcError(Code.UNAVAILABLE, `connect ${socketPath}: ${err.message}`, { cause: err }));
    };
    socket.once("error", onError);
  });
}

function toKeyValues(md: CallOptions["metadata"]): KeyValue[] {
  if (md === undefined) return [];
  const out: KeyValue[] = [];
  for (const [key, v] of Object.entries(md)) {
    if (typeof v === "string") out.push({ key, value: v });
    else for (const value of v) out.push({ key, value });
  }
  return out;
}
