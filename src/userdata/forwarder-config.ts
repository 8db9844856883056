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
  readonly routes: readonly { readonly dst: string; readonly gateway?: string | undefined; readonly dev?: string | undefined }[];
}

export interface ForwarderConfig {
  readonly version: 1;
  readonly sandboxId: string;
  readonly listenPort: number;
  readonly tls: ForwarderTls | undefined;
  readonly podNetwork: PodNetwork | undefined;
}

export function parseForwarderConfig(text: string): ForwarderConfig {
  const c = JSON.parse(text) as ForwarderConfig;
  if (c.version !== 1) throw new Error(`forwarder config: unsupported version ${String(c.version)}`);
  if (typeof c.sandboxId !== "string" || c.sandboxId === "") throw new Error("forwarder config: sandboxId missing");
  if (!Number.isInteger(c.listenPort) || c.listenPort < 1 || c.listenPort > 65535) throw new Error(`forwarder config: listenPort ${String(c.listenPort)} is not a port`);
  if (c.tls !== undefined && c.tls !== null && (typeof c.tls.caCert !== "string" || typeof c.tls.cert !== "string" || typeof c.tls.key !== "string")) {
    throw new Error("forwarder config: tls needs caCert, cert and key");
  }
  return { ...c, tls: c.tls ?? undefined, podNetwork: c.podNetwork ?? undefined };
}
