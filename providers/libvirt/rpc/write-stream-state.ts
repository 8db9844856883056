// What the daemon has said about one write stream (a volume upload): it accepted the call,
// it confirmed the finished stream, or it failed it — which it may do at any moment once the
// call is accepted, so every wait on the stream also ends on failure.
import { LibvirtConnectionError, readRemoteError } from "./libvirt-error.ts";
import { type Message, MessageStatus, MessageType } from "./message.ts";
import { XdrReader } from "./xdr-reader.ts";

export type WriteStreamPhase = "call" | "data" | "finish";

export class WriteStreamState {
  phase: WriteStreamPhase = "call";
  private failure: Error | undefined;
  private readonly failed: Promise<never>;
  private rejectFailed!: (err: Error) => void;
  private readonly accepted: Promise<void>;
  private resolveAccepted!: () => void;
  private readonly finished: Promise<void>;
  private resolveFinished!: () => void;
  private readonly name: string;

  constructor(procedureName: string) {
    this.name = procedureName;
    this.failed = new Promise<never>((_, reject) => (this.rejectFailed = reject));
    // Observed through the waits below; never an unhandled rejection on its own.
    this.failed.catch(() => {});
    this.accepted = new Promise((resolve) => (this.resolveAccepted = resolve));
    this.finished = new Promise((resolve) => (this.resolveFinished = resolve));
  }

  get error(): Error | undefined {
    return this.failure;
  }

  onMessage(m: Message): void {
    if (m.header.status === MessageStatus.error) {
      try {
        this.fail(readRemoteError(new XdrReader(m.body), this.name));
      } catch (err) {
        this.fail(err as Error);
      }
      return;
    }
    if (this.phase === "call" && m.header.type === MessageType.reply) return this.resolveAccepted();
    if (this.phase === "finish" && m.header.status === MessageStatus.ok) return this.resolveFinished();
    // Data on a write stream, a second reply: the daemon and this client disagree.
    this.fail(
      new LibvirtConnectionError(
        `unexpected message (type ${m.header.type}, status ${m.header.status}) on the ${this.name} stream`,
      ),
    );
  }

  fail(err: Error): void {
    if (this.failure !== undefined) return;
    this.failure = err;
    this.rejectFailed(err);
  }

  /** Resolves with `p`, or rejects as soon as the stream fails. */
  orFailure<T>(p: Promise<T>): Promise<T> {
    return Promise.race([p, this.failed]);
  }

  whenAccepted(): Promise<void> {
    return this.orFailure(this.accepted);
  }

  whenFinished(): Promise<void> {
    return this.orFailure(this.finished);
  }
}
