// The sandbox manager's relays, served by peerpod-relay: `create(...).start()` asks the relay
// to serve a sandbox, `stop` to stop. What we asked for is kept here, so that after either
// process restarts the relay's list is made to match it: sockets we want served again, sockets
// nobody wants stopped.
import type { Logger } from "pino";
import type { TlsProfile } from "../../pki/tls-profile.ts";
import { type ForwarderAddress, type ProxyTls, waitForForwarder } from "../../proxy/index.ts";
import type { AgentRelay, RelayFactory } from "../../sandbox/contracts.ts";
import { KeyedMutex } from "../../util/keyed-mutex.ts";
import type { ClientTlsPem, ServeSpec } from "../control-protocol.ts";
import type { RelayClient } from "./relay-client.ts";

export interface RemoteRelaysOptions {
  readonly client: RelayClient;
  /** Undefined: plaintext (DISABLE_TLS). */
  readonly clientTls: ClientTlsPem | undefined;
  /** TLS_MIN_VERSION / TLS_CIPHER_SUITES. */
  readonly profile?: TlsProfile;
  /** The name a sandbox's VM certificate carries; "": check only the chain (operator certificates). */
  readonly serverName: (sandboxId: string) => string;
  readonly logger: Logger;
  readonly retryIntervalMs?: number;
}

export interface SyncReport {
  readonly served: string[];
  readonly stopped: string[];
  /** Wanted sandboxes the relay refused to serve (each logged). */
  readonly failed: string[];
}

export class RemoteRelays implements RelayFactory {
  private readonly o: RemoteRelaysOptions;
  private readonly wanted = new Map<string, ServeSpec>();
  private readonly lock = new KeyedMutex();

  constructor(options: RemoteRelaysOptions) {
    this.o = options;
  }

  create(sandboxId: string, socketPath: string, target: ForwarderAddress): AgentRelay {
    const spec: ServeSpec = {
      sandboxId,
      socketPath,
      host: target.host,
      port: target.port,
      serverName: this.o.clientTls === undefined ? "" : this.o.serverName(sandboxId),
    };
    let gone!: () => void;
    const closed = new Promise<void>((resolve) => (gone = resolve));
    let lingerTimer: NodeJS.Timeout | undefined;
    return {
      closed,
      start: () =>
        this.lock.run(sandboxId, async () => {
          this.wanted.set(sandboxId, spec);
          try {
            await this.o.client.call("Serve", spec);
          } catch (err) {
            // Not served, so not wanted: a later sync must not retry it and fail again.
            if (this.wanted.get(sandboxId) === spec) this.wanted.delete(sandboxId);
            throw err;
          }
        }),
      // stop(0) on a lingering socket ends its linger at once (the relay does the same).
      stop: (lingerMs) =>
        this.lock.run(sandboxId, async () => {
          if (this.wanted.get(sandboxId) === spec) this.wanted.delete(sandboxId);
          await this.o.client.call("Stop", { sandboxId, lingerMs });
          clearTimeout(lingerTimer);
          if (lingerMs <= 0) gone();
          else {
            lingerTimer = setTimeout(gone, lingerMs);
            lingerTimer.unref();
          }
        }),
    };
  }

  /** Resolves once the sandbox's forwarder answers with a certificate naming the sandbox. */
  waitForForwarder(target: ForwarderAddress, signal: AbortSignal, sandboxId: string): Promise<void> {
    const t = this.o.clientTls;
    const name = this.o.serverName(sandboxId);
    const profile = this.o.profile === undefined ? {} : { profile: this.o.profile };
    const tls: ProxyTls | undefined =
      t === undefined
        ? undefined
        : {
            ca: t.caPem,
            cert: t.certPem,
            key: t.keyPem,
            ...profile,
            ...(name === "" ? { skipNameCheck: true } : { servername: name }),
          };
    return waitForForwarder({ ...target, tls, signal, retryIntervalMs: this.o.retryIntervalMs });
  }

  /** Bytes the relay has relayed each way since it started (for metrics). */
  async bytes(): Promise<{ to_vm: number; from_vm: number }> {
    return (await this.o.client.call("List", {}, 2000)).bytes;
  }

  /** Sandboxes we want served. */
  get wantedIds(): string[] {
    return [...this.wanted.keys()];
  }

  /**
   * Makes the relay serve exactly what we want: serves every wanted sandbox (a no-op where it
   * already does) and stops what nobody wants (sockets of sandboxes stopped or rolled back
   * while we were away). Run after reconciliation at start-up and after every reconnection.
   */
  async sync(): Promise<SyncReport> {
    const served: string[] = [];
    const stopped: string[] = [];
    const failed: string[] = [];
    for (const id of [...this.wanted.keys()]) {
      await this.lock.run(id, async () => {
        const spec = this.wanted.get(id);
        if (spec === undefined) return;
        try {
          if ((await this.o.client.call("Serve", spec)).changed) served.push(id);
        } catch (err) {
          // One sandbox the relay cannot serve never keeps the others from being served.
          failed.push(id);
          this.o.logger.error(
            { sandbox: id, err: (err as Error).message },
            "the relay cannot serve this sandbox's agent socket",
          );
        }
      });
    }
    const { sandboxes } = await this.o.client.call("List", {});
    for (const s of sandboxes) {
      await this.lock.run(s.sandboxId, async () => {
        if (this.wanted.has(s.sandboxId)) return;
        await this.o.client.call("Stop", { sandboxId: s.sandboxId, lingerMs: 0 });
        stopped.push(s.sandboxId);
      });
    }
    if (served.length > 0 || stopped.length > 0)
      this.o.logger.info({ served, stopped }, "relay brought in line with the sandbox records");
    return { served, stopped, failed };
  }
}
