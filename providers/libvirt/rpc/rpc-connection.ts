// One connection to libvirtd: numbered calls with any number in flight (replies come back in
// any order and are matched by serial), and write streams for volume uploads.
import type { Duplex } from "node:stream";
import { LibvirtConnectionError, readRemoteError } from "./libvirt-error.ts";
import {
  decodeHeader,
  encodeMessage,
  FrameDecoder,
  type Message,
  MessageStatus,
  MessageType,
  REMOTE_PROGRAM,
  REMOTE_PROTOCOL_VERSION,
  STREAM_CHUNK_MAX,
} from "./message.ts";
import { procedureName } from "./procedures.ts";
import { WriteStreamState } from "./write-stream-state.ts";
import { XdrReader } from "./xdr-reader.ts";
import { XdrWriter } from "./xdr-writer.ts";

/** A byte pipe to the daemon: a socket, or ssh's stdin/stdout. */
export interface RpcTransport {
  readonly stream: Duplex;
  /** What this transport reaches, for messages ("unix socket /var/run/...", "ssh root@host"). */
  readonly description: string;
  /** Anything the transport learned about a failure (ssh's stderr), or "". */
  diagnostics(): string;
}

export type ArgsWriter = (w: XdrWriter) => void;
export type ResultReader<T> = (r: XdrReader) => T;

interface Pending {
  readonly procedure: number;
  onMessage(m: Message): void;
  fail(err: Error): void;
}

export class RpcConnection {
  private readonly transport: RpcTransport;
  private readonly pending = new Map<number, Pending>();
  private readonly decoder = new FrameDecoder();
  private serial = 0;
  private failure: Error | undefined;
  private readonly closed: Promise<void>;

  constructor(transport: RpcTransport) {
    this.transport = transport;
    const s = transport.stream;
    s.on("data", (chunk: Buffer) => this.onData(chunk));
    s.on("error", (err: Error) =>
      this.fail(
        new LibvirtConnectionError(
          this.explain(`connection to libvirt (${transport.description}) failed: ${err.message}`),
          { cause: err },
        ),
      ),
    );
    this.closed = new Promise((resolve) => {
      s.once("close", () => {
        // Give the transport a moment to report why (ssh writes its error as it exits).
        setImmediate(() => {
          this.fail(
            new LibvirtConnectionError(this.explain(`connection to libvirt (${transport.description}) closed`)),
          );
          resolve();
        });
      });
    });
  }

  get isOpen(): boolean {
    return this.failure === undefined;
  }

  get description(): string {
    return this.transport.description;
  }

  /** Calls a procedure and decodes its result; libvirt's errors reject with LibvirtError. */
  call<T>(procedure: number, args: ArgsWriter | undefined, result: ResultReader<T>, signal?: AbortSignal): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.failure !== undefined) return reject(this.failure);
      if (signal?.aborted) return reject(signal.reason);
      const serial = this.nextSerial();
      const onAbort = () => {
        // The daemon still answers; the answer is dropped when it comes.
        this.pending.delete(serial);
        reject(signal!.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      const done = () => {
        this.pending.delete(serial);
        signal?.removeEventListener("abort", onAbort);
      };
      this.pending.set(serial, {
        procedure,
        onMessage: (m) => {
          done();
          if (m.header.type !== MessageType.reply)
            return reject(
              new LibvirtConnectionError(
                `libvirt answered ${procedureName(procedure)} with message type ${m.header.type}`,
              ),
            );
          try {
            const r = new XdrReader(m.body);
            if (m.header.status === MessageStatus.ok) resolve(result(r));
            else reject(readRemoteError(r, procedureName(procedure)));
          } catch (err) {
            reject(err);
          }
        },
        fail: (err) => {
          done();
          reject(err);
        },
      });
      this.send(procedure, MessageType.call, serial, MessageStatus.ok, encodeArgs(args));
    });
  }

  /**
   * Calls a procedure that opens a write stream (volume upload), sends `data` in chunks as
   * the socket takes them, then finishes the stream and waits for the daemon's confirmation.
   * Returns the number of bytes sent.
   */
  async upload(
    procedure: number,
    args: ArgsWriter,
    data: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    signal?: AbortSignal,
  ): Promise<number> {
    if (this.failure !== undefined) throw this.failure;
    signal?.throwIfAborted();
    const serial = this.nextSerial();
    const stream = new WriteStreamState(procedureName(procedure));
    // Registered under the call's serial from the start: the daemon answers the call, then
    // may fail the stream at any point.
    this.pending.set(serial, { procedure, onMessage: (m) => stream.onMessage(m), fail: (err) => stream.fail(err) });
    const abandon = () => {
      // Tells the daemon to drop the partial upload; its answer is not awaited.
      if (stream.phase !== "call" && stream.error === undefined)
        this.sendQuietly(procedure, MessageType.stream, serial, MessageStatus.error, new Uint8Array(0));
    };
    const onAbort = () => {
      abandon();
      stream.fail(signal!.reason as Error);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      this.send(procedure, MessageType.call, serial, MessageStatus.ok, encodeArgs(args));
      await stream.whenAccepted();
      stream.phase = "data";
      let sent = 0;
      for await (const piece of data) {
        for (let off = 0; off < piece.length; off += STREAM_CHUNK_MAX) {
          if (stream.error !== undefined) throw stream.error;
          const chunk = piece.subarray(off, Math.min(piece.length, off + STREAM_CHUNK_MAX));
          sent += chunk.length;
          if (!this.send(procedure, MessageType.stream, serial, MessageStatus.continue, chunk))
            await stream.orFailure(this.drain());
        }
      }
      if (stream.error !== undefined) throw stream.error;
      stream.phase = "finish";
      this.send(procedure, MessageType.stream, serial, MessageStatus.ok, new Uint8Array(0));
      await stream.whenFinished();
      return sent;
    } catch (err) {
      // The data source failed, or the daemon did: either way the stream ends here.
      abandon();
      stream.fail(err as Error);
      throw stream.error;
    } finally {
      signal?.removeEventListener("abort", onAbort);
      this.pending.delete(serial);
    }
  }

  /** Ends the connection: in-flight calls fail. */
  async destroy(): Promise<void> {
    this.fail(new LibvirtConnectionError(`connection to libvirt (${this.transport.description}) closed by the client`));
    this.transport.stream.destroy();
    await this.closed;
  }

  /** Waits until the transport has closed. */
  whenClosed(): Promise<void> {
    return this.closed;
  }

  private nextSerial(): number {
    this.serial = (this.serial + 1) >>> 0;
    if (this.serial === 0) this.serial = 1;
    return this.serial;
  }

  private send(procedure: number, type: number, serial: number, status: number, body: Uint8Array): boolean {
    const frame = encodeMessage(
      { program: REMOTE_PROGRAM, version: REMOTE_PROTOCOL_VERSION, procedure, type, serial, status },
      body,
    );
    return this.transport.stream.write(frame);
  }

  private sendQuietly(procedure: number, type: number, serial: number, status: number, body: Uint8Array): void {
    if (this.failure !== undefined) return;
    try {
      this.send(procedure, type, serial, status, body);
    } catch {
      // The connection is going away: nothing left to tell the daemon.
    }
  }

  private drain(): Promise<void> {
    const s = this.transport.stream;
    return new Promise((resolve, reject) => {
      if (this.failure !== undefined) return reject(this.failure);
      const onDrain = () => {
        s.off("close", onClose);
        resolve();
      };
      const onClose = () => {
        s.off("drain", onDrain);
        reject(
          this.failure ?? new LibvirtConnectionError(`connection to libvirt (${this.transport.description}) closed`),
        );
      };
      s.once("drain", onDrain);
      s.once("close", onClose);
    });
  }

  private onData(chunk: Buffer): void {
    let frames: Buffer[];
    try {
      frames = this.decoder.push(chunk);
    } catch (err) {
      this.fail(
        new LibvirtConnectionError(`libvirt sent a malformed message: ${(err as Error).message}`, { cause: err }),
      );
      this.transport.stream.destroy();
      return;
    }
    for (const frame of frames) {
      let m: Message;
      try {
        m = decodeHeader(frame);
      } catch (err) {
        this.fail(
          new LibvirtConnectionError(`libvirt sent a malformed header: ${(err as Error).message}`, { cause: err }),
        );
        this.transport.stream.destroy();
        return;
      }
      // Other programs (keepalive) and events are not used by this client.
      if (m.header.program !== REMOTE_PROGRAM || m.header.type === MessageType.message) continue;
      this.pending.get(m.header.serial)?.onMessage(m);
    }
  }

  private fail(err: Error): void {
    if (this.failure !== undefined) return;
    this.failure = err;
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) p.fail(err);
  }

  private explain(message: string): string {
    const extra = this.transport.diagnostics().trim();
    return extra === "" ? message : `${message}: ${extra}`;
  }
}

function encodeArgs(args: ArgsWriter | undefined): Uint8Array {
  if (args === undefined) return new Uint8Array(0);
  const w = new XdrWriter();
  args(w);
  return w.bytes();
}
