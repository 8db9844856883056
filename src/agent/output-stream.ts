// One output pipe of a process (stdout or stderr) as the agent protocol reads it: ReadStdout and
// ReadStderr are long polls that return whatever has arrived, up to `len` bytes. The buffer is
// bounded: when it is full the pipe is paused, so a process writing faster than the caller
// reads blocks on its pipe instead of growing the agent's memory.

import type { Readable } from "node:stream";
import { Code, TtrpcError } from "../ttrpc/index.ts";
import { abortReason } from "./abortable.ts";

/** Bytes buffered per stream before the pipe is paused. */
export const DEFAULT_OUTPUT_LIMIT = 1 << 20;

/** The status a read gets once the stream has ended and is drained: the caller's end of file.
 * It must be an error: the shim takes an empty OK reply as "no data yet" and asks again at once. */
export const END_OF_STREAM_CODE = Code.OUT_OF_RANGE;

interface Waiter {
  readonly maxBytes: number;
  readonly resolve: (data: Uint8Array) => void;
  readonly reject: (err: Error) => void;
  readonly detach: () => void;
}

export class OutputStream {
  /** Names the stream in errors, e.g. "stdout of c1/e1". */
  readonly label: string;
  private readonly limit: number;
  private readonly chunks: Buffer[] = [];
  private bufferedBytes = 0;
  private readonly waiters: Waiter[] = [];
  private source: Readable | undefined;
  private paused = false;
  private ended = false;
  private endCause: Error | undefined;
  private readonly drained: Promise<void>;
  private resolveDrained!: () => void;

  constructor(label: string, limit = DEFAULT_OUTPUT_LIMIT) {
    this.label = label;
    this.limit = limit;
    this.drained = new Promise((resolve) => {
      this.resolveDrained = resolve;
    });
  }

  /** True once the stream has ended and nothing is left to read. */
  get isDrained(): boolean {
    return this.ended && this.bufferedBytes === 0;
  }

  /** Settles once the stream has ended and everything in it was read (or discarded). */
  get whenDrained(): Promise<void> {
    return this.drained;
  }

  get buffered(): number {
    return this.bufferedBytes;
  }

  /** True once no more data can arrive (the buffer may still hold some). */
  get isEnded(): boolean {
    return this.ended;
  }

  /** Takes data from the pipe until it ends. */
  attach(source: Readable): void {
    if (this.source !== undefined) throw new Error(`${this.label} already has a source`);
    if (this.ended) {
      source.destroy();
      return;
    }
    this.source = source;
    source.on("data", (chunk: Buffer) => this.push(chunk));
    source.once("end", () => this.end());
    source.once("error", (err) => this.end(err));
    // A pipe can close without "end" when it is destroyed (e.g. the process is killed while
    // the stream is paused); either way nothing more will come.
    source.once("close", () => this.end());
  }

  /** No more data will come: pending readers get what is left, then the end-of-stream error. */
  end(cause?: Error): void {
    if (this.ended) return;
    this.ended = true;
    this.endCause = cause;
    this.serve();
  }

  /** Drops what is buffered and closes the pipe: for a process being forgotten, whose
   * output nobody will read (a paused pipe would otherwise stay open). */
  discard(reason: string): void {
    this.chunks.length = 0;
    this.bufferedBytes = 0;
    this.source?.destroy();
    this.end(new Error(reason));
  }

  /**
   * Up to maxBytes of output. Waits while the buffer is empty and the stream open; fails with
   * END_OF_STREAM_CODE once the stream has ended and is drained, and with the signal's reason
   * when the signal aborts first.
   */
  read(maxBytes: number, signal?: AbortSignal): Promise<Uint8Array> {
    if (!Number.isInteger(maxBytes) || maxBytes <= 0) {
      return Promise.reject(
        new TtrpcError(
          Code.INVALID_ARGUMENT,
          `read of ${this.label}: length must be a positive integer, got ${maxBytes}`,
        ),
      );
    }
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    if (this.waiters.length === 0 && this.bufferedBytes > 0) return Promise.resolve(this.take(maxBytes));
    if (this.ended && this.bufferedBytes === 0) return Promise.reject(this.endOfStream());
    return new Promise<Uint8Array>((resolve, reject) => {
      const onAbort = () => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(abortReason(signal as AbortSignal));
      };
      const waiter: Waiter = {
        maxBytes,
        resolve,
        reject,
        detach: () => signal?.removeEventListener("abort", onAbort),
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  private push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.bufferedBytes += chunk.length;
    this.serve();
    if (this.bufferedBytes >= this.limit && !this.paused && this.source !== undefined) {
      this.paused = true;
      this.source.pause();
    }
  }

  /** Hands buffered data to waiting readers in arrival order; ends them when drained. */
  private serve(): void {
    while (this.waiters.length > 0 && this.bufferedBytes > 0) {
      const waiter = this.waiters.shift() as Waiter;
      waiter.detach();
      waiter.resolve(this.take(waiter.maxBytes));
    }
    if (this.ended && this.bufferedBytes === 0) {
      this.resolveDrained();
      for (const waiter of this.waiters.splice(0)) {
        waiter.detach();
        waiter.reject(this.endOfStream());
      }
    }
  }

  private take(maxBytes: number): Uint8Array {
    const parts: Buffer[] = [];
    let taken = 0;
    while (taken < maxBytes && this.chunks.length > 0) {
      const head = this.chunks[0] as Buffer;
      const want = maxBytes - taken;
      if (head.length <= want) {
        parts.push(head);
        this.chunks.shift();
        taken += head.length;
      } else {
        parts.push(head.subarray(0, want));
        this.chunks[0] = head.subarray(want);
        taken += want;
      }
    }
    this.bufferedBytes -= taken;
    if (this.ended && this.bufferedBytes === 0) this.resolveDrained();
    if (this.paused && this.bufferedBytes < this.limit) {
      this.paused = false;
      this.source?.resume();
    }
    return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, taken);
  }

  private endOfStream(): TtrpcError {
    const why = this.endCause === undefined ? "" : ` (${this.endCause.message})`;
    return new TtrpcError(END_OF_STREAM_CODE, `eof: ${this.label} has ended${why}`);
  }
}
