// The one sandbox this agent serves, as kata-agent keeps it: its id and hostname, its
// containers and their processes, and the GetOOMEvent long polls, which this agent can only
// release (it never sees an OOM kill) when the sandbox goes away.

import { Code, TtrpcError } from "../ttrpc/index.ts";
import { abortable } from "./abortable.ts";
import { Container } from "./container.ts";
import { type AgentLogger, silentLogger } from "./logger.ts";
import type { ManagedProcess } from "./managed-process.ts";
import type { LaunchOptions } from "./process-launcher.ts";
import type { ProcessSpec } from "./process-spec.ts";

export interface GuestSandboxOptions {
  /** How container processes are started (e.g. inside a network namespace). */
  readonly launch?: LaunchOptions;
  readonly logger?: AgentLogger;
  /** Bytes buffered per output stream before a process's pipe is paused. */
  readonly outputLimit?: number;
}

export class GuestSandbox {
  private readonly launch: LaunchOptions;
  private readonly logger: AgentLogger;
  private readonly outputLimit: number | undefined;
  private sandboxId: string | undefined;
  private sandboxHostname = "";
  private readonly containers = new Map<string, Container>();
  private readonly oomWaiters = new Set<(err: TtrpcError) => void>();
  private closed = false;

  constructor(options: GuestSandboxOptions = {}) {
    this.launch = options.launch ?? {};
    this.logger = options.logger ?? silentLogger;
    this.outputLimit = options.outputLimit;
  }

  /** The id CreateSandbox gave, until DestroySandbox. */
  get id(): string | undefined {
    return this.sandboxId;
  }

  get hostname(): string {
    return this.sandboxHostname;
  }

  containerIds(): string[] {
    return [...this.containers.keys()];
  }

  /** Every process of every container (for inspection and tests). */
  processes(): ManagedProcess[] {
    return [...this.containers.values()].flatMap((c) => c.processes());
  }

  create(sandboxId: string, hostname: string): void {
    this.checkOpen();
    if (this.sandboxId !== undefined)
      throw new TtrpcError(Code.ALREADY_EXISTS, `sandbox ${this.sandboxId} already exists`);
    this.sandboxId = sandboxId;
    this.sandboxHostname = hostname;
    this.logger.info({ sandbox: sandboxId, hostname }, "sandbox created");
  }

  /** Records a container; its init process runs at startContainer. */
  createContainer(containerId: string, execId: string, spec: ProcessSpec): Container {
    this.checkOpen();
    if (containerId === "") throw new TtrpcError(Code.INVALID_ARGUMENT, "container id is empty");
    if (this.containers.has(containerId))
      throw new TtrpcError(Code.ALREADY_EXISTS, `container ${containerId} already exists`);
    const container = new Container({
      id: containerId,
      initExecId: execId,
      spec,
      launch: this.launch,
      logger: this.logger,
      outputLimit: this.outputLimit,
    });
    this.containers.set(containerId, container);
    this.logger.info({ container: containerId, args: spec.args, cwd: spec.cwd }, "container created");
    return container;
  }

  async startContainer(containerId: string): Promise<void> {
    this.checkOpen();
    await this.container(containerId).start();
  }

  async execProcess(containerId: string, execId: string, spec: ProcessSpec): Promise<ManagedProcess> {
    this.checkOpen();
    return this.container(containerId).exec(execId, spec);
  }

  process(containerId: string, execId: string): ManagedProcess {
    return this.container(containerId).process(execId);
  }

  async signalProcess(containerId: string, execId: string, signal: number): Promise<void> {
    await this.process(containerId, execId).signal(signal);
  }

  /** The exit status, once the process has exited. */
  async waitProcess(containerId: string, execId: string, signal?: AbortSignal): Promise<number> {
    const container = this.container(containerId);
    const proc = container.process(execId);
    const status = await proc.wait(signal);
    if (proc !== container.init) container.markWaited(proc);
    return status;
  }

  /** Kills what is left of the container and forgets it; `timeoutMs` 0 waits as long as it takes. */
  async removeContainer(containerId: string, timeoutMs = 0, signal?: AbortSignal): Promise<void> {
    const container = this.container(containerId);
    let timer: NodeJS.Timeout | undefined;
    const deadline =
      timeoutMs > 0
        ? new Promise<never>((_, reject) => {
            timer = setTimeout(
              () =>
                reject(
                  new TtrpcError(
                    Code.DEADLINE_EXCEEDED,
                    `processes of container ${containerId} did not exit within ${timeoutMs} ms`,
                  ),
                ),
              timeoutMs,
            );
          })
        : undefined;
    try {
      const killed = container.killAll();
      await abortable(deadline === undefined ? killed : Promise.race([killed, deadline]), signal);
    } finally {
      clearTimeout(timer);
    }
    container.discardOutput(`container ${containerId} was removed`);
    if (this.containers.get(containerId) === container) this.containers.delete(containerId);
    this.logger.info({ container: containerId }, "container removed");
  }

  /**
   * Kills every process, forgets every container and ends the GetOOMEvent polls. The agent
   * stays usable: a new CreateSandbox starts afresh.
   */
  async destroy(): Promise<void> {
    const containers = [...this.containers.values()];
    this.containers.clear();
    const outcomes = await Promise.allSettled(containers.map((c) => c.killAll()));
    for (const c of containers) c.discardOutput("the sandbox was destroyed");
    // NOT_FOUND: some shims stop polling for OOM events on it; the others retry after a pause.
    const released = new TtrpcError(Code.NOT_FOUND, "the sandbox was destroyed; no more OOM events");
    for (const release of [...this.oomWaiters]) release(released);
    this.oomWaiters.clear();
    this.logger.info({ sandbox: this.sandboxId, containers: containers.map((c) => c.id) }, "sandbox destroyed");
    this.sandboxId = undefined;
    this.sandboxHostname = "";
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === "rejected");
    if (failed !== undefined) throw failed.reason;
  }

  /**
   * A GetOOMEvent long poll. This agent does not watch memory cgroups, so the poll never
   * reports an event: it ends with an error when the sandbox is destroyed or the call aborts.
   */
  waitForOOMEvent(signal?: AbortSignal): Promise<never> {
    if (this.closed) return Promise.reject(closedError());
    let release!: (err: TtrpcError) => void;
    const released = new Promise<never>((_, reject) => {
      release = reject;
    });
    this.oomWaiters.add(release);
    const poll = abortable(released, signal);
    void poll.catch(() => this.oomWaiters.delete(release));
    return poll;
  }

  /** Destroys the sandbox and refuses what would start anything again (agent shutdown). */
  async shutdown(): Promise<void> {
    this.closed = true;
    await this.destroy();
  }

  private container(containerId: string): Container {
    const container = this.containers.get(containerId);
    if (container === undefined)
      throw new TtrpcError(Code.NOT_FOUND, `container ${JSON.stringify(containerId)} not found`);
    return container;
  }

  private checkOpen(): void {
    if (this.closed) throw closedError();
  }
}

function closedError(): TtrpcError {
  return new TtrpcError(Code.UNAVAILABLE, "the agent is shutting down");
}
