// A container of the sandbox: its init process (described at creation, run at start) and the
// processes exec'd into it. As in a container's own pid namespace, everything in it dies with
// the init process.

import { Code, TtrpcError } from "../ttrpc/index.ts";
import type { AgentLogger } from "./logger.ts";
import { ManagedProcess } from "./managed-process.ts";
import type { LaunchOptions } from "./process-launcher.ts";
import type { ProcessSpec } from "./process-spec.ts";

export interface ContainerOptions {
  readonly id: string;
  /** The exec id CreateContainer gave the init process (the shim uses the container id). */
  readonly initExecId: string;
  readonly spec: ProcessSpec;
  readonly launch: LaunchOptions;
  readonly logger: AgentLogger;
  readonly outputLimit?: number | undefined;
}

export class Container {
  readonly id: string;
  readonly init: ManagedProcess;
  private readonly initExecId: string;
  private readonly execs = new Map<string, ManagedProcess>();
  /** Processes whose status WaitProcess has reported. */
  private readonly waited = new WeakSet<ManagedProcess>();
  private readonly options: ContainerOptions;

  constructor(options: ContainerOptions) {
    this.options = options;
    this.id = options.id;
    this.initExecId = options.initExecId === "" ? options.id : options.initExecId;
    this.init = this.newProcess(this.initExecId, options.spec);
    void this.init.wait().then(() => this.killExecs());
  }

  /** The shim names the init process by the container id, by CreateContainer's exec id, or
   * (in SignalProcess) by an empty exec id. */
  isInit(execId: string): boolean {
    return execId === "" || execId === this.id || execId === this.initExecId;
  }

  /** Runs the init process. */
  start(): Promise<void> {
    return this.init.start();
  }

  /** Starts another process in the running container. */
  async exec(execId: string, spec: ProcessSpec): Promise<ManagedProcess> {
    if (this.isInit(execId) || this.execs.has(execId)) {
      throw new TtrpcError(
        Code.ALREADY_EXISTS,
        `container ${this.id} already has a process with exec id ${JSON.stringify(execId)}`,
      );
    }
    if (this.init.state !== "running")
      throw new TtrpcError(Code.FAILED_PRECONDITION, `container ${this.id} is not running (${this.init.state})`);
    const proc = this.newProcess(execId, spec);
    this.execs.set(execId, proc);
    try {
      await proc.start();
    } catch (err) {
      this.execs.delete(execId);
      throw err;
    }
    // An exec'd process is forgotten once it was waited for and its output read, so that
    // repeated execs (probes) do not pile up.
    void Promise.all([proc.stdout.whenDrained, proc.stderr.whenDrained]).then(() => this.forgetIfDone(proc));
    return proc;
  }

  process(execId: string): ManagedProcess {
    if (this.isInit(execId)) return this.init;
    const proc = this.execs.get(execId);
    if (proc === undefined)
      throw new TtrpcError(
        Code.NOT_FOUND,
        `container ${this.id} has no process with exec id ${JSON.stringify(execId)}`,
      );
    return proc;
  }

  /** Notes that WaitProcess reported this process's status (see exec). */
  markWaited(proc: ManagedProcess): void {
    this.waited.add(proc);
    this.forgetIfDone(proc);
  }

  /** Every process, init first. */
  processes(): ManagedProcess[] {
    return [this.init, ...this.execs.values()];
  }

  /** Kills every process and resolves once all have exited. */
  async killAll(): Promise<void> {
    await Promise.all(this.processes().map((p) => p.kill()));
  }

  /** Drops unread output and closes the pipes of every process. */
  discardOutput(reason: string): void {
    for (const p of this.processes()) p.discardOutput(reason);
  }

  private forgetIfDone(proc: ManagedProcess): void {
    if (!this.waited.has(proc) || !proc.stdout.isDrained || !proc.stderr.isDrained) return;
    if (this.execs.get(proc.execId) === proc) this.execs.delete(proc.execId);
  }

  private killExecs(): void {
    for (const p of this.execs.values()) {
      p.kill().catch((err: unknown) =>
        this.options.logger.error(
          { container: this.id, exec: p.execId, err: (err as Error).message },
          "cannot kill a process of a container whose init process exited",
        ),
      );
    }
  }

  private newProcess(execId: string, spec: ProcessSpec): ManagedProcess {
    return new ManagedProcess({
      containerId: this.id,
      execId,
      spec,
      launch: this.options.launch,
      logger: this.options.logger,
      outputLimit: this.options.outputLimit,
    });
  }
}
