// Every sandbox's agent socket this relay serves: one AgentProxy per sandbox, relaying the
// shim's connection to the forwarder in the sandbox's VM. The control plane says what to serve;
// this table only keeps it so, one change per sandbox at a time.
import path from "node:path";
import type tls from "node:tls";
import { AgentProxy, type ProxyTls, proxySecureContext } from "../proxy/index.ts";
import { Code, TtrpcError } from "../ttrpc/raw.ts";
import { KeyedMutex } from "../util/keyed-mutex.ts";
import type { Log } from "../util/log.ts";
import type { ClientTlsPem, RelayedBytes, ServedSandbox, ServeSpec } from "./control-protocol.ts";

export interface AgentSocketsOptions {
  /** Every socket must live in a folder of its own directly under this one. */
  readonly podsDir: string;
  /** First-dial window of a new shim connection (PROXY_TIMEOUT). */
  readonly dialTimeoutMs: number;
  readonly logger: Log;
}

const SANDBOX_ID = /^[A-Za-z0-9_.-]{1,128}$/;

interface Entry {
  readonly spec: ServeSpec;
  readonly proxy: AgentProxy;
}

export class AgentSockets {
  private readonly o: AgentSocketsOptions;
  private readonly served = new Map<string, Entry>();
  /** Stopped proxies whose sockets still answer errors for a while. */
  private readonly lingering = new Map<string, AgentProxy>();
  private readonly lock = new KeyedMutex();
  /** undefined until a control plane has said hello; null: plaintext (DISABLE_TLS). */
  private tls: ClientTlsPem | null | undefined;
  /** Built from `tls` at the first Serve and shared by every proxy started with it. */
  private secureContext: tls.SecureContext | undefined;
  private readonly relayed = { to_vm: 0, from_vm: 0 };

  constructor(options: AgentSocketsOptions) {
    this.o = options;
  }

  /** The client certificate for relays started from now on; running relays keep theirs. */
  setClientTls(tls: ClientTlsPem | null): void {
    this.tls = tls;
    this.secureContext = undefined;
  }

  /** The context every proxy of the current certificate shares, built at its first use. */
  private sharedSecureContext(material: ProxyTls): tls.SecureContext {
    this.secureContext ??= proxySecureContext(material);
    return this.secureContext;
  }

  /** Bytes relayed each way since the relay started. */
  get bytes(): RelayedBytes {
    return { ...this.relayed };
  }

  get size(): number {
    return this.served.size;
  }

  list(): ServedSandbox[] {
    return [...this.served.values()].map((e) => ({ ...e.spec, connections: e.proxy.connectionCount }));
  }

  /** Serves the sandbox as told; true when something changed. Idempotent. */
  serve(request: ServeSpec): Promise<boolean> {
    // Only the fields we know, whatever else the JSON carried.
    const spec: ServeSpec = {
      sandboxId: String(request.sandboxId),
      socketPath: String(request.socketPath),
      host: String(request.host),
      port: Number(request.port),
      serverName: String(request.serverName ?? ""),
    };
    this.check(spec);
    const tlsKnown = this.tls;
    return this.lock.run(spec.sandboxId, async () => {
      const current = this.served.get(spec.sandboxId);
      if (current !== undefined && sameSpec(current.spec, spec)) return false;
      if (tlsKnown === undefined)
        throw new TtrpcError(
          Code.FAILED_PRECONDITION,
          "no control plane has said hello: the client certificate is unknown",
        );
      if (current !== undefined) {
        // The sandbox moved (a StartVM retried on a new VM): the old relay must go first.
        this.served.delete(spec.sandboxId);
        await current.proxy.stop(0);
      }
      const old = this.lingering.get(spec.sandboxId);
      if (old !== undefined) {
        this.lingering.delete(spec.sandboxId);
        await old.stop(0);
      }
      let tls: ProxyTls | undefined;
      if (tlsKnown !== null) {
        const { caPem: ca, certPem: cert, keyPem: key, profile } = tlsKnown;
        const material = { ca, cert, key, profile };
        // One context for every proxy of the same control plane's certificate (each costs memory);
        // a certificate replaced while this Serve waited for its turn gets a context of its own.
        const secureContext = this.tls === tlsKnown ? this.sharedSecureContext(material) : undefined;
        tls = {
          ...material,
          ...(secureContext === undefined ? {} : { secureContext }),
          ...(spec.serverName === "" ? { skipNameCheck: true } : { servername: spec.serverName }),
        };
      }
      const target = { host: spec.host, port: spec.port };
      const proxy = new AgentProxy({
        socketPath: spec.socketPath,
        target: () => target,
        tls,
        dialTimeoutMs: this.o.dialTimeoutMs,
        logger: this.o.logger.child({ sandbox: spec.sandboxId }),
        onBytes: (direction, n) => (this.relayed[direction] += n),
      });
      await proxy.start();
      this.served.set(spec.sandboxId, { spec, proxy });
      this.o.logger.info(
        { sandbox: spec.sandboxId, socket: spec.socketPath, forwarder: `${spec.host}:${spec.port}` },
        "serving agent socket",
      );
      return true;
    });
  }

  /** Stops serving; the socket answers "sandbox stopped" for lingerMs, then goes. Idempotent;
   * with lingerMs 0 a socket still lingering goes at once. */
  stop(sandboxId: string, lingerMs: number): Promise<boolean> {
    return this.lock.run(sandboxId, async () => {
      const current = this.served.get(sandboxId);
      if (current === undefined) {
        const old = this.lingering.get(sandboxId);
        if (old !== undefined && lingerMs <= 0) {
          this.lingering.delete(sandboxId);
          await old.stop(0);
        }
        return false;
      }
      this.served.delete(sandboxId);
      await current.proxy.stop(lingerMs);
      if (lingerMs > 0) {
        this.lingering.set(sandboxId, current.proxy);
        void current.proxy.closed.then(() => {
          if (this.lingering.get(sandboxId) === current.proxy) this.lingering.delete(sandboxId);
        });
      }
      this.o.logger.info({ sandbox: sandboxId }, "stopped serving agent socket");
      return true;
    });
  }

  /** Closes every socket (the relay is stopping): the shims' connections end. */
  async closeAll(): Promise<void> {
    const all = [...this.served.values()].map((e) => e.proxy).concat([...this.lingering.values()]);
    this.served.clear();
    this.lingering.clear();
    await Promise.all(all.map((p) => p.stop(0).catch(() => {})));
  }

  private check(spec: ServeSpec): void {
    const bad = (what: string) =>
      new TtrpcError(Code.INVALID_ARGUMENT, `Serve ${JSON.stringify(spec.sandboxId)}: ${what}`);
    if (!SANDBOX_ID.test(spec.sandboxId) || spec.sandboxId === "." || spec.sandboxId === "..")
      throw bad("sandbox id must be 1-128 letters, digits, '.', '_' or '-'");
    const rel = path.relative(this.o.podsDir, path.resolve(spec.socketPath));
    if (rel.startsWith("..") || path.isAbsolute(rel) || rel.split(path.sep).length !== 2) {
      throw bad(
        `socket path ${JSON.stringify(spec.socketPath)} must be <dir>/<file> inside PODS_DIR ${this.o.podsDir}`,
      );
    }
    if (spec.host === "") throw bad("forwarder host is empty");
    if (!Number.isInteger(spec.port) || spec.port < 1 || spec.port > 65535)
      throw bad(`forwarder port ${spec.port} is not 1-65535`);
  }
}

function sameSpec(a: ServeSpec, b: ServeSpec): boolean {
  return a.socketPath === b.socketPath && a.host === b.host && a.port === b.port && a.serverName === b.serverName;
}
