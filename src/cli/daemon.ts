// Wires the daemon (the control plane) together: configuration → provider → state → manager →
// Hypervisor service, the relay that owns the sockets (peerpod-relay), and the debug server.
// Nothing here decides anything; each piece lives in its folder.
import path from "node:path";
import type { Logger } from "pino";
import { findProvider, loadExternalProvider } from "../../providers/index.ts";
import type { DaemonConfig } from "../config/index.ts";
import { DaemonMetrics, InstrumentedProvider, type Readiness, startDebugServer } from "../debug/index.ts";
import { registerHypervisorService } from "../hypervisor/index.ts";
import type { KubeConfigSource } from "../k8s/index.ts";
import {
  CertificateAuthority,
  loadOperatorCertificates,
  peerVmServerName,
  poolVmServerName,
  type TlsProfile,
  tlsProfile,
} from "../pki/index.ts";
import { PoolStore, type PoolTlsIssuer, WarmPool } from "../pool/index.ts";
import { makeRegistryAuth } from "../registry-auth/index.ts";
import { RelayClient, RemoteRelays, startDetachedRelay } from "../relay/client/index.ts";
import {
  type ReconcileReport,
  resolveClusterIdentity,
  SandboxManager,
  SandboxStore,
  type VmTlsIssuer,
} from "../sandbox/index.ts";
import { Server } from "../ttrpc/index.ts";
import { findNodeAddress, WorkerTunnels } from "../tunnel/index.ts";
import { sleep } from "../util/sleep.ts";

export interface DaemonHandle {
  readonly manager: SandboxManager;
  readonly probePort: number;
  /** Stops serving; peer VMs, the relay and its sockets keep running (a restarted daemon
   * serves them again). */
  stop(): Promise<void>;
}

export async function runDaemon(
  config: DaemonConfig,
  env: Readonly<Record<string, string | undefined>>,
  logger: Logger,
): Promise<DaemonHandle> {
  const isRoot = process.getuid?.() === 0;
  const factory =
    config.externalModule === undefined || config.externalModuleSha256 === undefined
      ? await findProvider(config.cloudProvider)
      : await loadExternalProvider({
          modulePath: config.externalModule,
          sha256: config.externalModuleSha256,
          providerName: config.cloudProvider,
          uid: process.getuid?.() ?? 0,
        });
  if (config.externalModule !== undefined)
    logger.info(
      { module: config.externalModule, provider: factory.name },
      "running the out-of-tree provider of CLOUD_PROVIDER_EXTERNAL_MODULE (SHA-256 checked)",
    );
  const inner = factory.create({ env, stateDir: config.stateDir, logger, isRoot });
  const store = await SandboxStore.open(config.stateDir);

  let manager: SandboxManager | undefined;
  let relays: RemoteRelays | undefined;
  let pool: WarmPool | undefined;
  const metrics = new DaemonMetrics(
    () => manager?.countByState() ?? { created: 0, starting: 0, running: 0, failed: 0, stopping: 0 },
    async () => relays?.bytes(),
    () => pool?.counts() ?? { booting: 0, ready: 0 },
  );
  const readiness: Readiness = { socketServed: false, reconciled: false, providerChecked: false };
  const debug = await startDebugServer({
    port: config.probePort,
    nodeAddress: await probeAddress(config, logger),
    metrics,
    readiness: () => readiness,
    sandboxes: () => [...(manager?.list() ?? []), ...(pool?.list() ?? [])],
  });

  const provider = new InstrumentedProvider(inner, metrics);
  const kube = await findKubeApi(env, logger);
  const cluster = await resolveClusterIdentity({
    clusterName: config.clusterName,
    clusterId: config.clusterId,
    stateDir: config.stateDir,
    kubeSystemUid: async () => (kube === undefined ? undefined : kubeSystemUidWithRetries(kube, logger)),
  });
  logger.info({ cluster: cluster.mark, from: cluster.origin }, "cluster identity on this node's peer VMs");
  const registryAuth = await makeRegistryAuth({
    enabled: config.registryAuth === "on",
    authFile: config.registryAuthFile,
    kubeConfig: kube?.kubeConfig,
    logger,
  });
  logger.info({ source: registryAuth.source }, "registry credentials for peer pods");
  let clientTls: { readonly caPem: string; readonly certPem: string; readonly keyPem: string } | undefined;
  let tls: VmTlsIssuer | undefined;
  let poolTls: PoolTlsIssuer | undefined;
  const profile = tlsProfile(config.tlsMinVersion, config.tlsCipherSuites);
  if (config.disableTls) {
    logger.warn(
      "DISABLE_TLS=true: the agent protocol travels to peer VMs unencrypted and unauthenticated; for development only",
    );
  } else if (config.caCertFile !== undefined && config.certFile !== undefined && config.certKey !== undefined) {
    // The VMs' certificates come with their image (as upstream): the user-data carries none.
    clientTls = await loadOperatorCertificates({
      caCertFile: config.caCertFile,
      certFile: config.certFile,
      certKey: config.certKey,
    });
    logger.info(
      { caCertFile: config.caCertFile, certFile: config.certFile },
      "operator certificates: forwarders must present a certificate from CACERT_FILE's CA",
    );
  } else {
    const ca = await CertificateAuthority.loadOrCreate(path.join(config.stateDir, "ca"));
    logger.info({ origin: ca.origin, fingerprint: ca.fingerprint256 }, "certificate authority ready");
    clientTls = await ca.issueClientCertificate({ commonName: `cloud-api-adaptor ${config.nodeName}` });
    tls = {
      issueForVm: async (sandboxId) => {
        const c = await ca.issueServerCertificate({
          commonName: peerVmServerName(sandboxId),
          dnsNames: [peerVmServerName(sandboxId)],
        });
        return { caCert: c.caPem, cert: c.certPem, key: c.keyPem };
      },
    };
    poolTls = {
      issueForPoolVm: async (name) => {
        const c = await ca.issueServerCertificate({
          commonName: poolVmServerName(name),
          dnsNames: [poolVmServerName(name)],
        });
        return { caCert: c.caPem, cert: c.certPem, key: c.keyPem };
      },
    };
  }
  if (profile.setting !== undefined)
    logger.info(
      { minVersion: profile.minVersion, ciphers: profile.ciphers },
      `TLS profile for the forwarder link: ${profile.setting}`,
    );

  const relay = await connectRelay(config, env, logger, clientTls, profile);
  // With operator certificates (CACERT_FILE) the VMs' certificates come with the image and
  // name no sandbox: only their chain is checked (server name "").
  const r = new RemoteRelays({
    client: relay,
    clientTls,
    profile,
    serverName: tls === undefined ? () => "" : peerVmServerName,
    logger,
  });
  relays = r;

  const owner = { node: config.nodeName, cluster: cluster.mark };
  const failpoint =
    config.testFailpoint === undefined
      ? undefined
      : { name: config.testFailpoint, hit: () => process.kill(process.pid, "SIGKILL") };
  // Made even at size 0: it adopts or deletes the pool VMs of an earlier run (WARM_POOL_SIZE
  // lowered to 0 deletes them all). The configuration allows a size above 0 only with the
  // daemon's own CA, which issues the pool VMs' identities.
  pool = new WarmPool({
    size: config.warmPoolSize,
    shape: { instanceType: config.warmPoolInstanceType, initdata: config.initdata },
    maxAgeMs: config.warmPoolMaxAgeMs,
    provider,
    owner,
    store: await PoolStore.open(config.stateDir),
    forwarderPort: config.forwarderPort,
    tls: poolTls,
    clientTls: poolTls === undefined || clientTls === undefined ? undefined : { ...clientTls, profile },
    bootTimeoutMs: config.proxyTimeoutMs,
    isBound: (name) => manager?.holdsVm(name) ?? true,
    logger: logger.child({ component: "warm-pool" }),
    failpoint,
  });
  const warmPool = pool;

  manager = new SandboxManager({
    store,
    provider,
    owner,
    podsDir: config.podsDir,
    // Upstream: 0 or less means unlimited, and nothing is advertised.
    limit: config.peerpodsLimitPerNode > 0 ? config.peerpodsLimitPerNode : Number.POSITIVE_INFINITY,
    forwarderPort: config.forwarderPort,
    proxyTimeoutMs: config.proxyTimeoutMs,
    relays: r,
    tls,
    tunnels: new WorkerTunnels({ hostInterface: config.hostInterface, vxlanPort: config.vxlanPort }),
    vniBase: config.vxlanMinId,
    vniCount: (1 << 24) - config.vxlanMinId, // VNIs are 24 bits
    vxlanPort: config.vxlanPort,
    defaultInitdata: config.initdata,
    registryAuth,
    logger,
    socketLingerMs: config.socketLingerMs,
    onStartPhase: (phase, seconds) => metrics.startPhases.observe({ phase }, seconds),
    pool: config.warmPoolSize > 0 ? warmPool : undefined,
    onStarted: (path, seconds) => metrics.startDuration.observe({ path }, seconds),
    onPoolOutcome: (outcome) =>
      outcome === "claimed" ? metrics.warmPoolClaims.inc() : metrics.warmPoolMisses.inc({ reason: outcome }),
    // Crash tests only: the daemon kills itself at the named point of a transition.
    failpoint,
  });

  await provider.check(AbortSignal.timeout(120_000));
  readiness.providerChecked = true;
  const report = await reconcileUntilDone(manager, readiness, logger);
  readiness.reconciled = true;
  logger.info(report, "reconciled sandbox records with the provider");
  // Sockets of sandboxes stopped or rolled back while we were away go; after a relay restart,
  // every running sandbox is served again before Hypervisor calls flow.
  await r.sync();
  relay.onReconnected(async () => {
    await r.sync();
  });
  // After reconciliation (the manager's records say which pool VMs sandboxes took), in the
  // background: until it has listed the provider's VMs, StartVMs go cold and nothing is swept.
  const poolStarting = startPoolUntilDone(warmPool, config.warmPoolSize, logger);

  const server = new Server({
    onProtocolError: (err) => logger.warn({ err: err.message }, "hypervisor socket: protocol error, connection closed"),
  });
  registerHypervisorService(server, {
    manager,
    onCall: (method, code, seconds) => {
      metrics.hypervisorCalls.inc({ method, code: String(code) });
      metrics.hypervisorLatency.observe({ method }, seconds);
    },
  });
  await relay.attachHypervisor(server);
  readiness.socketServed = true;
  logger.info(
    { socket: config.socketPath, relaySocket: config.relaySocket, provider: provider.name, probePort: debug.port },
    "serving the Hypervisor service through the relay",
  );
  if (kube !== undefined && config.peerpodsLimitPerNode <= 0) {
    logger.info(`PEERPODS_LIMIT_PER_NODE=${config.peerpodsLimitPerNode}: no limit; node capacity not advertised`);
  }
  const capacity =
    kube === undefined || config.peerpodsLimitPerNode <= 0 ? undefined : await advertiseCapacity(config, kube, logger);
  const sweeper = startSweeper(manager, warmPool, config.reconcileIntervalMs, logger);

  const m = manager;
  return {
    manager: m,
    probePort: debug.port,
    async stop() {
      readiness.socketServed = false;
      sweeper.stop();
      poolStarting.stop();
      await warmPool.stop();
      await capacity?.stop();
      // The relay holds new Hypervisor calls for our successor; calls under way finish here
      // (or, past the grace, are sent again to the successor: they are idempotent).
      await relay.detach();
      await server.shutdown(5000);
      relay.close();
      await provider.close();
      await debug.close();
    },
  };
}

/** Connects to the relay that owns the sockets, starting one (detached) when none answers and
 * START_RELAY allows; under Kubernetes it waits for the relay's DaemonSet. */
async function connectRelay(
  config: DaemonConfig,
  env: Readonly<Record<string, string | undefined>>,
  logger: Logger,
  clientTls: { readonly caPem: string; readonly certPem: string; readonly keyPem: string } | undefined,
  profile: TlsProfile,
): Promise<RelayClient> {
  const logFile = path.join(config.stateDir, "peerpod-relay.log");
  const start = config.startRelay
    ? async () => {
        const pid = startDetachedRelay({
          relaySocket: config.relaySocket,
          hypervisorSocket: path.resolve(config.socketPath),
          podsDir: path.resolve(config.podsDir),
          proxyTimeoutMs: config.proxyTimeoutMs,
          logLevel: config.logLevel,
          logFile,
          env,
        });
        logger.info({ pid, logFile }, "started peerpod-relay");
      }
    : undefined;
  if (!config.startRelay)
    logger.info({ relaySocket: config.relaySocket }, "START_RELAY=false: waiting for peerpod-relay");
  return RelayClient.connect(
    {
      relaySocket: config.relaySocket,
      clientTls:
        clientTls === undefined
          ? null
          : { caPem: clientTls.caPem, certPem: clientTls.certPem, keyPem: clientTls.keyPem, profile },
      controlPlane: `cloud-api-adaptor ${config.nodeName} pid ${process.pid}`,
      expect: { hypervisorSocket: path.resolve(config.socketPath), podsDir: path.resolve(config.podsDir) },
      start,
      logger,
    },
    AbortSignal.timeout(config.startRelay ? 60_000 : 600_000),
  );
}

/**
 * The Kubernetes API the daemon finds: KUBECONFIG, else the in-cluster service account. Outside a
 * cluster there is none, and the Kubernetes client is not even loaded; an unusable configuration
 * is a warning, never a failure.
 */
async function findKubeApi(
  env: Readonly<Record<string, string | undefined>>,
  logger: Logger,
): Promise<KubeConfigSource | undefined> {
  if (!env.KUBECONFIG && !env.KUBERNETES_SERVICE_HOST) {
    logger.info(
      "no Kubernetes API configured (KUBECONFIG or in-cluster service account): node capacity not advertised",
    );
    return undefined;
  }
  const k8s = await import("../k8s/index.ts");
  try {
    return k8s.loadKubeConfig({ env });
  } catch (err) {
    logger.warn({ err: (err as Error).message }, "Kubernetes configuration unusable: node capacity not advertised");
    return undefined;
  }
}

/** The kube-system namespace's UID; a few tries, since a node's API connection may lag its start. */
async function kubeSystemUidWithRetries(kube: KubeConfigSource, logger: Logger): Promise<string> {
  const { kubeSystemUid } = await import("../k8s/index.ts");
  for (let attempt = 1; ; attempt++) {
    try {
      return await kubeSystemUid(kube.kubeConfig, AbortSignal.timeout(10_000));
    } catch (err) {
      if (attempt >= 4) throw err;
      logger.warn(
        { err: (err as Error).message, attempt },
        "cluster identity: Kubernetes API did not answer; retrying",
      );
      await sleep(1000 * 2 ** attempt);
    }
  }
}

/** Keeps the node's kata.peerpods.io/vm capacity at PEERPODS_LIMIT_PER_NODE; an unreachable API
 * is a warning, never a failure. */
async function advertiseCapacity(
  config: DaemonConfig,
  kube: KubeConfigSource,
  logger: Logger,
): Promise<{ stop(): Promise<void> }> {
  const { startNodeCapacity } = await import("../k8s/index.ts");
  logger.info(
    { origin: kube.origin, node: config.nodeName, limit: config.peerpodsLimitPerNode },
    "advertising node capacity kata.peerpods.io/vm",
  );
  return startNodeCapacity({
    nodeName: config.nodeName,
    limit: config.peerpodsLimitPerNode,
    kubeConfig: kube.kubeConfig,
    logger,
  });
}

/**
 * Start-up reconciliation, retried with back-off (1 s doubling to 1 min) while it fails as a
 * whole (the provider cannot list its VMs: an outage, throttling): the daemon stays up, says
 * why it is not ready on /readyz, and serves nothing until its records and the cloud agree.
 * A single sandbox's failure does not get here: the manager marks that sandbox failed.
 */
async function reconcileUntilDone(
  manager: SandboxManager,
  readiness: Readiness,
  logger: Logger,
): Promise<ReconcileReport> {
  for (let attempt = 1, delayMs = 1000; ; attempt++, delayMs = Math.min(delayMs * 2, 60_000)) {
    try {
      const report = await manager.reconcile(AbortSignal.timeout(300_000));
      readiness.reconcileError = undefined;
      return report;
    } catch (err) {
      readiness.reconcileError = (err as Error).message;
      logger.error(
        { err: readiness.reconcileError, attempt, retryInSeconds: delayMs / 1000 },
        "start-up reconciliation failed; retrying",
      );
      await sleep(delayMs);
    }
  }
}

/** Starts the warm pool, retried with back-off (1 s doubling to 1 min) while the provider's
 * listing fails: a pool that cannot start yet only means cold starts, never a daemon down. */
function startPoolUntilDone(pool: WarmPool, size: number, logger: Logger): { stop(): void } {
  const stopped = new AbortController();
  void (async () => {
    for (let attempt = 1, delayMs = 1000; !stopped.signal.aborted; attempt++, delayMs = Math.min(delayMs * 2, 60_000)) {
      try {
        const adoption = await pool.start(AbortSignal.any([stopped.signal, AbortSignal.timeout(300_000)]));
        if (size > 0 || adoption.adopted.length + adoption.deleted.length > 0)
          logger.info({ ...adoption, size }, "warm pool started");
        return;
      } catch (err) {
        if (stopped.signal.aborted) return;
        logger.error(
          { err: (err as Error).message, attempt, retryInSeconds: delayMs / 1000 },
          "warm pool could not start; retrying (pods start cold meanwhile)",
        );
        await sleep(delayMs, stopped.signal).catch(() => undefined);
      }
    }
  })();
  return { stop: () => stopped.abort() };
}

/** Runs the manager's sweep every `intervalMs`, one at a time; failures are logged and retried
 * at the next tick. */
function startSweeper(manager: SandboxManager, pool: WarmPool, intervalMs: number, logger: Logger): { stop(): void } {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    manager
      .sweep(AbortSignal.timeout(Math.max(intervalMs, 60_000)))
      .then(
        (r) => {
          if (r.finishedStops.length > 0 || r.orphansDeleted.length > 0) logger.warn(r, "sweep cleaned up");
        },
        (err: Error) => logger.error({ err: err.message }, "sweep failed; will retry"),
      )
      .then(() => pool.sweep(AbortSignal.timeout(Math.max(intervalMs, 60_000))))
      .then(
        (deleted) => {
          if (deleted.length > 0) logger.warn({ deleted }, "sweep deleted pool VMs nobody knows");
        },
        (err: Error) => logger.error({ err: err.message }, "pool sweep failed; will retry"),
      )
      .finally(() => (running = false));
  }, intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

/** Where the probe port listens besides loopback: PROBE_ADDRESS, else the node's address.
 * Without one, only loopback (and a warning: the kubelet's probes cannot reach it). */
async function probeAddress(config: DaemonConfig, logger: Logger): Promise<string | undefined> {
  if (config.probeAddress !== undefined) return config.probeAddress;
  try {
    return (await findNodeAddress(config.hostInterface, AbortSignal.timeout(10_000))).address;
  } catch (err) {
    logger.warn(
      { err: (err as Error).message, port: config.probePort },
      "no node address for the probe port (set PROBE_ADDRESS or HOST_INTERFACE): it listens on loopback only",
    );
    return undefined;
  }
}
