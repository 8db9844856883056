// One process of a container: created first (the init process is described by CreateContainer
// and only run by StartContainer), then running, then exited with a status. Its output is read
// through two OutputStreams; its process group is what signals are sent to.

import type { ChildProcessWithoutNullStreams } from "node:child_process";
import { constants } from "node:os";
import { Code, TtrpcError } from "../ttrpc/index.ts";
import { abortable } from "./abortable.ts";
import { exitStatus, isValidSignal, terminatesByDefault } from "./exit-status.ts";
import type { AgentLogger } from "./logger.ts";
import { OutputStream } from "./output-stream.ts";
import { type LaunchOptions, launchProcess } from "./process-launcher.ts";
import type { ProcessSpec } from "./process-spec.ts";

export type ProcessState = "created" | "starting" | "running" | "exited";

/** The status of a process that could not be started (the shell's "command not found"). */
export const START_FAILED_STATUS = 127;

export interface ManagedProcessOptions {
  readonly containerId: string;
  readonly execId: string;
  readonly spec: ProcessSpec;
  readonly launch: LaunchOptions;
  readonly logger: AgentLogger;
  /** Bytes buffered per output stream before the pipe is paused. */
  readonly outputLimit?: number | undefined;
}

export class ManagedProcess {
  readonly containerId: string;
  readonly execId: string;
  readonly spec: ProcessSpec;
  readonly stdout: OutputStream;
  readonly stderr: OutputStream;
  private readonly launch: LaunchOptions;
  private readonly logger: AgentLogger;
  private child: ChildProcessWithoutNullStreams | undefined;
  private starting: Promise<void> | undefined;
  private status: number | undefined;
  private readonly exited: Promise<number>;
  private resolveExited!: (status: number) => void;
  private stdinClosed = false;
  /** Set once no member of the process group is left, so a later signal cannot hit a
   * group that reused the number. */
  private groupGone = false;

  constructor(options: ManagedProcessOptions) {
    this.containerId = options.containerId;
    this.execId = options.execId;
    this.spec = options.spec;
    this.launch = options.launch;
    this.logger = options.logger;
    const name = `${options.containerId}/${options.execId}`;
    this.stdout = new OutputStream(`stdout of ${name}`, options.outputLimit);
    this.stderr = new OutputStream(`stderr of ${name}`, options.outputLimit);
    this.exited = new Promise((resolve) => {
      this.resolveExited = resolve;
    });
  }

  get name(): string {
    return `${this.containerId}/${this.execId}`;
  }

  get state(): ProcessState {
    if (this.status !== undefined) return "exited";
    if (this.child !== undefined) return "running";
    return this.starting === undefined ? "created" : "starting";
  }

  /** The process id (also its process group id) once started. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** The exit status once exited: the code, or 128 + signal number. */
  get exitStatus(): number | undefined {
    return this.status;
  }

  /** Runs the process. Fails if it already ran or cannot be started; a process that cannot be
   * started counts as exited with START_FAILED_STATUS so its waiters and readers are released. */
  start(): Promise<void> {
    if (this.state !== "created") {
      return Promise.reject(new TtrpcError(Code.FAILED_PRECONDITION, `process ${this.name} is already ${this.state}`));
    }
    this.starting = this.spawn();
    return this.starting;
  }

  /** Resolves with the exit status; rejects when the signal aborts first. */
  wait(signal?: AbortSignal): Promise<number> {
    return abortable(this.exited, signal);
  }

  /**
   * Delivers the signal to the process group. A process not started yet is ended by a signal
   * that would end it; one that has exited (with no group members left) is not signalled:
   * both are fine, as the shim signals processes that may have ended already.
   */
  async signal(signal: number): Promise<void> {
    if (!isValidSignal(signal))
      throw new TtrpcError(Code.INVALID_ARGUMENT, `signal ${signal} is not a valid signal number`);
    if (this.starting !== undefined && this.child === undefined && this.status === undefined) {
      // Wait for the spawn under way: a start failure is the start's caller's to report.
      await this.starting.catch(() => {});
    }
    if (this.child === undefined) {
      if (this.status === undefined && terminatesByDefault(signal)) this.finish(128 + signal);
      return;
    }
    this.signalGroup(this.child.pid as number, signal);
  }

  /** Kills the process and its group, and resolves once it has exited. */
  async kill(): Promise<number> {
    await this.signal(constants.signals.SIGKILL);
    return this.exited;
  }

  async writeStdin(data: Uint8Array): Promise<number> {
    const child = this.child;
    if (child === undefined)
      throw new TtrpcError(Code.FAILED_PRECONDITION, `process ${this.name} is ${this.state}; its stdin is not open`);
    if (this.stdinClosed) throw new TtrpcError(Code.FAILED_PRECONDITION, `stdin of ${this.name} is closed`);
    if (data.length === 0) return 0;
    await new Promise<void>((resolve, reject) => {
      child.stdin.write(data, (err) => {
        if (err)
          reject(
            new TtrpcError(Code.FAILED_PRECONDITION, `write to stdin of ${this.name}: ${err.message}`, { cause: err }),
          );
        else resolve();
      });
    });
    return data.length;
  }

  /** Closes stdin (the process reads end of file); before the start, it starts closed. */
  closeStdin(): void {
    this.stdinClosed = true;
    this.child?.stdin.end();
  }

  /** Forgets the output nobody will read and closes the pipes. */
  discardOutput(reason: string): void {
    this.stdout.discard(reason);
    this.stderr.discard(reason);
  }

  private async spawn(): Promise<void> {
    let child: ChildProcessWithoutNullStreams;
    try {
      child = await launchProcess(this.spec, this.launch, `process ${this.name}`);
    } catch (err) {
      this.finish(START_FAILED_STATUS);
      throw err;
    }
    this.child = child;
    const pid = child.pid as number;
    this.logger.info({ container: this.containerId, exec: this.execId, pid, args: this.spec.args }, "process started");
    child.on("error", (err) =>
      this.logger.warn({ container: this.containerId, exec: this.execId, pid, err: err.message }, "process error"),
    );
    child.once("exit", (code, signal) => {
      this.noteGroupAfterExit(pid);
      const status = exitStatus(code, signal);
      this.logger.info({ container: this.containerId, exec: this.execId, pid, status }, "process exited");
      this.finish(status);
    });
    this.stdout.attach(child.stdout);
    this.stderr.attach(child.stderr);
    if (this.stdinClosed) child.stdin.end();
  }

  private finish(status: number): void {
    if (this.status !== undefined) return;
    this.status = status;
    if (this.child === undefined) {
      // Never ran: no output will ever come.
      this.stdout.end();
      this.stderr.end();
    }
    this.resolveExited(status);
  }

  private signalGroup(pid: number, signal: number): void {
    if (this.groupGone) return;
    try {
      process.kill(-pid, signal);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
      if (this.status !== undefined) {
        this.groupGone = true;
        return;
      }
      // The process left its group (setpgid) but still runs: signal it alone.
      try {
        process.kill(pid, signal);
      } catch (inner) {
        // ESRCH here: it has just died and its exit is being reported.
        if ((inner as NodeJS.ErrnoException).code !== "ESRCH") throw inner;
      }
    }
  }

  private noteGroupAfterExit(pid: number): void {
    try {
      process.kill(-pid, 0);
    } catch {
      // ESRCH: no member left. Any other failure means the group cannot be signalled either.
      this.groupGone = true;
    }
  }
}
