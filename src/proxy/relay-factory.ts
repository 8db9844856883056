// What the sandbox manager uses: one AgentProxy per sandbox, and the readiness wait, both with
// the daemon's client certificate. Each VM's certificate names its sandbox
// (peerVmServerName), so the relay of one sandbox never talks to another sandbox's VM even
// when the cloud reuses an address.
import type { Logger } from "pino";
import { peerVmServerName } from "../pki/index.ts";
import type { TlsProfile } from "../pki/tls-profile.ts";
import type { RelayFactory } from "../sandbox/index.ts";
import { AgentProxy, type RelayDirection } from "./agent-proxy.ts";
import type { ForwarderAddress } from "./forwarder-address.ts";
import type { ProxyTls } from "./proxy-tls.ts";
import { waitForForwarder } from "./wait-for-forwarder.ts";

/** The daemon's client certificate, as the CA issues it. */
export interface ClientTlsMaterial {
  readonly caPem: string;
  readonly certPem: string;
  readonly keyPem: string;
}

export interface RelayFactoryOptions {
  /** Undefined relays in plaintext (DISABLE_TLS). */
  readonly clientTls: ClientTlsMaterial | undefined;
  readonly logger: Logger;
  readonly onBytes?: (direction: RelayDirection, n: number) => void;
  /** First-dial window of a shim connection; default 5 min (PROXY_TIMEOUT's default). The
   * manager waits for the forwarder before serving the socket, so this matters mostly for
   * sockets served again after a daemon restart. */
  readonly dialTimeoutMs?: number;
  /** The name a sandbox's VM certificate carries; default peerVmServerName. */
  readonly serverName?: (sandboxId: string) => string;
  /**
   * False with operator certificates (CACERT_FILE): the VMs' certificates come with the image
   * and cannot name a sandbox, so only their chain to the operator's CA is checked.
   */
  readonly checkServerName?: boolean;
  /** TLS_MIN_VERSION / TLS_CIPHER_SUITES. */
  readonly profile?: TlsProfile;
  readonly retryIntervalMs?: number;
}

/** The sandbox manager's RelayFactory, made of AgentProxies. */
export interface AgentProxyFactory extends RelayFactory {
  create(sandboxId: string, socketPath: string, target: ForwarderAddress): AgentProxy;
  /** Without a sandbox id only the certificate chain is checked, not the VM's name. */
  waitForForwarder(target: ForwarderAddress, signal: AbortSignal, sandboxId?: string): Promise<void>;
}

export function createRelayFactory(o: RelayFactoryOptions): AgentProxyFactory {
  const serverName = o.serverName ?? peerVmServerName;
  const tlsFor = (sandboxId: string | undefined): ProxyTls | undefined => {
    if (o.clientTls === undefined) return undefined;
    const material = { ca: o.clientTls.caPem, cert: o.clientTls.certPem, key: o.clientTls.keyPem, ...(o.profile === undefined ? {} : { profile: o.profile }) };
    return sandboxId === undefined || o.checkServerName === false ? { ...material, skipNameCheck: true } : { ...material, servername: serverName(sandboxId) };
  };
  return {
    create(sandboxId, socketPath, target) {
      return new AgentProxy({
        socketPath,
        target: () => target,
        tls: tlsFor(sandboxId),
        dialTimeoutMs: o.dialTimeoutMs ?? 5 * 60_000,
        retryIntervalMs: o.retryIntervalMs,
        logger: o.logger.child({ sandbox: sandboxId }),
        onBytes: o.onBytes,
      });
    },
    waitForForwarder(target, signal, sandboxId) {
      return waitForForwarder({ ...target, tls: tlsFor(sandboxId), signal, retryIntervalMs: o.retryIntervalMs });
    },
  };
}
