// A pool VM's forwarder answers claims here: the first claim naming this VM takes it for its
// sandbox for good; every later claim is refused, whatever became of the first. A pool VM
// serves exactly one pod in its life.
import type tls from "node:tls";
import type { Logger } from "pino";
import {
  type ClaimReply,
  type ClaimRequest,
  type ClaimState,
  type CloudConfigFile,
  encodeClaimMessage,
  FORWARDER_CONFIG_PATH,
  type ForwarderConfig,
  parseClaimRequest,
  parseForwarderConfig,
  readClaimMessage,
} from "../userdata/index.ts";

export interface ClaimHandlerOptions {
  readonly poolVm: string;
  /** The port this forwarder listens on: the claimed configuration must keep it. */
  readonly listenPort: number;
  readonly writeFile: (file: CloudConfigFile) => Promise<void>;
  /** Sets the sandbox up (tunnel, agent) and switches the forwarder to it. */
  readonly apply: (config: ForwarderConfig) => Promise<void>;
  /** After apply: resolves once the agent answers on its socket (what the claimer would
   * otherwise dial the forwarder again to learn); rejects when it does not in time. */
  readonly agentReady?: (signal: AbortSignal) => Promise<void>;
  /** How long the claim reply waits for agentReady; default 5 s. Past it the reply goes
   * without agentReady and the claimer waits for the forwarder itself, as for a cold VM. */
  readonly agentReadyTimeoutMs?: number;
  readonly logger: Logger;
  /** How long a claim connection may take to send its request; default 10 s. */
  readonly requestTimeoutMs?: number;
}

export class ClaimHandler {
  private readonly o: ClaimHandlerOptions;
  private current: ClaimState = "waiting";
  private sandboxId: string | undefined;

  constructor(options: ClaimHandlerOptions) {
    this.o = options;
  }

  get state(): ClaimState {
    return this.current;
  }

  /** Answers one claim connection: one request, one reply, then the connection ends. */
  serve(socket: tls.TLSSocket): void {
    socket.setTimeout(this.o.requestTimeoutMs ?? 10_000, () => socket.destroy());
    socket.on("error", (err) => this.o.logger.debug({ err: err.message }, "claim connection error"));
    readClaimMessage(socket)
      .then((raw) => this.answer(parseClaimRequest(raw)))
      .catch((err: Error): ClaimReply => ({ ok: false, error: err.message }))
      .then((reply) => {
        if (!socket.destroyed) socket.end(encodeClaimMessage(reply));
      });
  }

  private async answer(req: ClaimRequest): Promise<ClaimReply> {
    if (req.op === "status")
      return { ok: true, state: this.current, ...(this.sandboxId === undefined ? {} : { sandboxId: this.sandboxId }) };
    if (req.poolVm !== this.o.poolVm)
      return { ok: false, error: `this is pool VM ${this.o.poolVm}, not ${req.poolVm}` };
    if (this.current !== "waiting") {
      this.o.logger.warn(
        { sandbox: req.sandboxId, claimedBy: this.sandboxId, state: this.current },
        "second claim refused",
      );
      return {
        ok: false,
        error: `pool VM ${this.o.poolVm} was already claimed${this.sandboxId === undefined ? "" : ` by sandbox ${this.sandboxId}`}; a pool VM serves one pod only`,
      };
    }
    // Taken before the first await: a concurrent claim sees it and is refused. Should the set-up
    // fail half-way the VM stays spent, never waiting again.
    this.current = "spent";
    this.sandboxId = req.sandboxId;
    try {
      const file = req.files.find((f) => f.path === FORWARDER_CONFIG_PATH);
      if (file === undefined) throw new Error(`claim carries no ${FORWARDER_CONFIG_PATH}`);
      const config = parseForwarderConfig(file.content);
      if (config.sandboxId !== req.sandboxId)
        throw new Error(`claim for sandbox ${req.sandboxId} carries the configuration of sandbox ${config.sandboxId}`);
      if (config.listenPort !== this.o.listenPort)
        throw new Error(
          `claim moves the forwarder to port ${config.listenPort}; this VM listens on ${this.o.listenPort}`,
        );
      if (config.tls === undefined) throw new Error("claim carries no TLS material for the sandbox");
      for (const f of req.files) await this.o.writeFile(f);
      await this.o.apply(config);
      this.current = "claimed";
      const agentReady = await this.agentReady();
      this.o.logger.info(
        { sandbox: req.sandboxId, files: req.files.map((f) => f.path), agentReady },
        "pool VM claimed",
      );
      return { ok: true, state: "claimed", sandboxId: req.sandboxId, ...(agentReady ? { agentReady } : {}) };
    } catch (err) {
      this.o.logger.error(
        { sandbox: req.sandboxId, err: (err as Error).message },
        "claim failed; this VM serves nothing more",
      );
      return { ok: false, error: `claim failed: ${(err as Error).message}` };
    }
  }

  /** True when the agent answered in time: the reply may vouch that agent connections work. */
  private async agentReady(): Promise<boolean> {
    if (this.o.agentReady === undefined) return false;
    try {
      await this.o.agentReady(AbortSignal.timeout(this.o.agentReadyTimeoutMs ?? 5000));
      return true;
    } catch (err) {
      this.o.logger.warn(
        { err: (err as Error).message },
        "agent not answering yet; the claim reply leaves the wait to the daemon",
      );
      return false;
    }
  }
}
