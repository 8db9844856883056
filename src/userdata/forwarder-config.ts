// What the daemon tells the forwarder in a peer VM, written by cloud-init to FORWARDER_CONFIG_PATH.

export const FORWARDER_CONFIG_PATH = "/run/peerpod/daemon.json";

export interface ForwarderTls {
  /** PEM of the CA whose client certificates the forwarder accepts (the daemon's CA). */
  readonly caCert: string;
  readonly cert: string;
  readonly key: string;
}

/** The pod's network as seen on the worker, for the VM end of the tunnel. */
export interface PodNetwork {
  readonly workerAddress: string;
  readonly vni: number;
  readonly vxlanPort: number;
  readonly interfaceName: string;
  readonly mac: string;
  readonly mtu: number;
  /** CIDR addresses, e.g. "10.244.1.5/24". */
  readonly addresses: readonly string[];
  readonly routes: readonly {
    readonly dst: string;
    readonly gateway?: string | undefined;
    readonly dev?: string | undefined;
  }[];
}

export interface ForwarderConfig {
  readonly version: 1;
  readonly sandboxId: string;
  readonly listenPort: number;
  readonly tls: ForwarderTls | undefined;
  readonly podNetwork: PodNetwork | undefined;
}

/**
 * What a warm-pool VM boots with: the daemon's CA and the pool VM's own identity (a server
 * certificate naming the pool VM), nothing of any pod. Its forwarder waits for one claim, which
 * brings the ForwarderConfig of the sandbox it then serves.
 */
export interface PoolForwarderConfig {
  readonly version: 1;
  /** The pool VM's name; the claim must name it, and its certificate carries poolVmServerName. */
  readonly poolVm: string;
  readonly listenPort: number;
  readonly tls: ForwarderTls;
}

export function isPoolConfig(c: ForwarderConfig | PoolForwarderConfig): c is PoolForwarderConfig {
  return "poolVm" in c;
}

/** Reads either kind of boot configuration: a sandbox's, or a pool VM's. */
export function parseBootConfig(text: string): ForwarderConfig | PoolForwarderConfig {
  const c = JSON.parse(text) as Partial<PoolForwarderConfig> | null;
  if (c === null || typeof c !== "object" || !("poolVm" in c)) return parseForwarderConfig(text);
  if (c.version !== 1) throw new Error(`pool forwarder config: unsupported version ${String(c.version)}`);
  if (typeof c.poolVm !== "string" || c.poolVm === "") throw new Error("pool forwarder config: poolVm missing");
  if (!Number.isInteger(c.listenPort) || c.listenPort! < 1 || c.listenPort! > 65535)
    throw new Error(`pool forwarder config: listenPort ${String(c.listenPort)} is not a port`);
  if (
    c.tls == null ||
    typeof c.tls.caCert !== "string" ||
    typeof c.tls.cert !== "string" ||
    typeof c.tls.key !== "string"
  ) {
    throw new Error(
      "pool forwarder config: tls needs caCert, cert and key (pool VMs are claimed over mutual TLS only)",
    );
  }
  return c as PoolForwarderConfig;
}

export function parseForwarderConfig(text: string): ForwarderConfig {
  const c = JSON.parse(text) as ForwarderConfig;
  if (c.version !== 1) throw new Error(`forwarder config: unsupported version ${String(c.version)}`);
  if (typeof c.sandboxId !== "string" || c.sandboxId === "") throw new Error("forwarder config: sandboxId missing");
  if (!Number.isInteger(c.listenPort) || c.listenPort < 1 || c.listenPort > 65535)
    throw new Error(`forwarder config: listenPort ${String(c.listenPort)} is not a port`);
  if (
    c.tls !== undefined &&
    c.tls !== null &&
    (typeof c.tls.caCert !== "string" || typeof c.tls.cert !== "string" || typeof c.tls.key !== "string")
  ) {
    throw new Error("forwarder config: tls needs caCert, cert and key");
  }
  return { ...c, tls: c.tls ?? undefined, podNetwork: c.podNetwork ?? undefined };
}
