// The daemon's own settings, common to every provider. Names and defaults follow upstream
// cloud-api-adaptor (its peer-pods-cm keys and `cloud-api-adaptor <provider> -flag` options) so
// an existing ConfigMap drops in; settings upstream lacks are marked "(ours)" below.
// Provider settings live in providers/*/config.ts, built with the same toolkit.

import { hostname } from "node:os";
import { ConfigError, InvalidConfigError } from "./errors.ts";
import { FAILPOINTS } from "./failpoints.ts";
import {
  boolField,
  durationField,
  enumField,
  intField,
  ipField,
  listField,
  portField,
  stringField,
} from "./field-kinds.ts";
import { type LoadOptions, loadConfig } from "./load.ts";
import { hypervisorSocketField, logLevelField, podsDirField } from "./shared-fields.ts";
import type { ConfigOf } from "./spec.ts";
import { cipherSuitesError, TLS_VERSION_NAMES } from "./tls-settings.ts";

export const daemonConfigSpec = Object.freeze({
  // Upstream takes the provider as the first argument or CLOUD_PROVIDER (entrypoint.sh).
  cloudProvider: stringField({
    env: "CLOUD_PROVIDER",
    flag: "cloud-provider",
    default: "local",
    description: "Provider that creates peer VMs (local, aws, azure, gcp, vsphere, libvirt).",
  }),
  // Upstream: -socket / REMOTE_HYPERVISOR_ENDPOINT.
  socketPath: hypervisorSocketField,
  // Upstream: -pods-dir / PODS_DIR.
  podsDir: podsDirField,
  // Ours: the data plane (peerpod-relay) owns the sockets; the daemon drives it here.
  relaySocket: stringField({
    env: "RELAY_SOCKET",
    flag: "relay-socket",
    default: "/run/peerpod/relay.sock",
    description: "Control socket of peerpod-relay, which owns the Hypervisor and agent sockets (root only).",
  }),
  // Ours.
  startRelay: boolField({
    env: "START_RELAY",
    flag: "start-relay",
    default: "true",
    description:
      "Start peerpod-relay (detached; it outlives the daemon) when none answers on RELAY_SOCKET; false waits for one (Kubernetes runs it as its own DaemonSet).",
  }),
  // Upstream: -pause-image / PAUSE_IMAGE.
  pauseImage: stringField({
    env: "PAUSE_IMAGE",
    flag: "pause-image",
    description:
      "Accepted for upstream parity and not passed on (a start-up warning says so): the peer VM's sandbox container comes from the image's /pause_bundle.",
  }),
  // Upstream: -forwarder-port / FORWARDER_PORT.
  forwarderPort: portField({
    env: "FORWARDER_PORT",
    flag: "forwarder-port",
    default: "15150",
    description: "TCP port of the agent protocol forwarder in each peer VM.",
  }),
  // Upstream: -proxy-timeout / PROXY_TIMEOUT.
  proxyTimeoutMs: durationField({
    env: "PROXY_TIMEOUT",
    flag: "proxy-timeout",
    default: "5m",
    minMs: 1,
    description: "How long to keep trying to reach a new VM's forwarder before failing the pod.",
  }),
  // Upstream: -vxlan-port / VXLAN_PORT.
  vxlanPort: portField({
    env: "VXLAN_PORT",
    flag: "vxlan-port",
    default: "4789",
    description: "UDP port of the VXLAN tunnels between this node and its peer VMs.",
  }),
  // Upstream has only the flag -vxlan-min-id; the variable is ours. A VNI is 24 bits.
  vxlanMinId: intField({
    env: "VXLAN_MIN_ID",
    flag: "vxlan-min-id",
    default: "555000",
    min: 1,
    max: 16_777_215,
    description: "First VXLAN network identifier (VNI) handed out to pods.",
  }),
  // Upstream: -host-interface (flag only); the variable is ours.
  hostInterface: stringField({
    env: "HOST_INTERFACE",
    flag: "host-interface",
    description: "Node interface that carries VXLAN traffic; unset picks the default route's.",
  }),
  // Upstream: -peerpods-limit-per-node / PEERPODS_LIMIT_PER_NODE.
  peerpodsLimitPerNode: intField({
    env: "PEERPODS_LIMIT_PER_NODE",
    flag: "peerpods-limit-per-node",
    default: "10",
    min: -1_000_000,
    max: 1_000_000,
    description:
      "Peer pods this node runs at most, advertised as kata.peerpods.io/vm capacity; 0 or less: no limit and no capacity advertised (as upstream).",
  }),
  // Upstream has only the flag -disable-tls; the variable is ours.
  disableTls: boolField({
    env: "DISABLE_TLS",
    flag: "disable-tls",
    default: "false",
    description: "Talk to forwarders without mutual TLS. For testing only.",
  }),
  // Upstream: TLS_MIN_VERSION (no flag), in Go's names, as OpenShift's TLS profile gives it.
  tlsMinVersion: enumField({
    env: "TLS_MIN_VERSION",
    flag: "tls-min-version",
    values: TLS_VERSION_NAMES,
    description: "Lowest TLS version on the link to the forwarders: VersionTLS12 (when unset) or VersionTLS13.",
  }),
  // Upstream: TLS_CIPHER_SUITES (no flag): IANA names, TLS 1.2 only (as in Go).
  tlsCipherSuites: listField({
    env: "TLS_CIPHER_SUITES",
    flag: "tls-cipher-suites",
    description:
      "TLS 1.2 cipher suites allowed on the link to the forwarders, comma-separated IANA names; unset: Node's defaults. TLS 1.3 suites are always on.",
  }),
  // Upstream: -ca-cert-file / CACERT_FILE, -cert-file / CERT_FILE, -cert-key / CERT_KEY.
  caCertFile: stringField({
    env: "CACERT_FILE",
    flag: "ca-cert-file",
    description:
      "Operator certificates: CA certificate (PEM) the forwarders' certificates must chain to, instead of the daemon's own CA. Needs CERT_FILE and CERT_KEY.",
  }),
  certFile: stringField({
    env: "CERT_FILE",
    flag: "cert-file",
    description: "Operator certificates: the daemon's client certificate (PEM) presented to the forwarders.",
  }),
  certKey: stringField({
    env: "CERT_KEY",
    flag: "cert-key",
    description: "Operator certificates: the private key (PEM) of CERT_FILE.",
  }),
  // Ours, in place of upstream's Go plugins (ENABLE_CLOUD_PROVIDER_EXTERNAL_PLUGIN...).
  externalModule: stringField({
    env: "CLOUD_PROVIDER_EXTERNAL_MODULE",
    flag: "cloud-provider-external-module",
    description:
      "Absolute path of an ES module exporting a provider factory (providerFactory or default) named CLOUD_PROVIDER; needs CLOUD_PROVIDER_EXTERNAL_MODULE_SHA256.",
  }),
  externalModuleSha256: stringField({
    env: "CLOUD_PROVIDER_EXTERNAL_MODULE_SHA256",
    flag: "cloud-provider-external-module-sha256",
    description: "SHA-256 (hex) the external module's bytes must have; any other file is refused.",
  }),
  // Upstream: -initdata / INITDATA.
  initdata: stringField({
    env: "INITDATA",
    flag: "initdata",
    // It may carry secrets for the attestation broker (KBS): never logged.
    secret: true,
    description: "Default initdata for every pod that does not carry its own.",
  }),
  // Upstream: -cloud-config-verify / CLOUD_CONFIG_VERIFY.
  cloudConfigVerify: boolField({
    env: "CLOUD_CONFIG_VERIFY",
    flag: "cloud-config-verify",
    default: "false",
    description: "Ask the VM to verify its cloud-config against initdata before using it.",
  }),
  // Upstream reads PROBE_PORT (no flag) for its startup probe.
  probePort: portField({
    env: "PROBE_PORT",
    flag: "probe-port",
    default: "8000",
    description: "Port of the HTTP server for startup/liveness/readiness probes and metrics.",
  }),
  // Ours: upstream listens on every address.
  probeAddress: ipField({
    env: "PROBE_ADDRESS",
    flag: "probe-address",
    description:
      "Node address the probe port listens on besides loopback, for the kubelet's probes and metrics (/debug stays on loopback); unset: the address of HOST_INTERFACE, else of the default route's interface.",
  }),
  // Ours: upstream keeps all state in memory and loses it on restart.
  stateDir: stringField({
    env: "CAA_STATE_DIR",
    flag: "state-dir",
    default: "/var/lib/cloud-api-adaptor",
    description: "Directory for durable state: sandbox records and the CA that VMs trust.",
  }),
  // Ours.
  logLevel: logLevelField,
  // Upstream's DaemonSet sets NODE_NAME from the pod's spec.nodeName.
  nodeName: stringField({
    env: "NODE_NAME",
    flag: "node-name",
    default: () => hostname(),
    defaultDoc: "the host name",
    description: "Kubernetes node this daemon serves; recorded on the VMs it creates.",
  }),
  // Ours: upstream never lists the cloud, so leaked VMs stay until someone notices.
  reconcileIntervalMs: durationField({
    env: "RECONCILE_INTERVAL",
    flag: "reconcile-interval",
    default: "5m",
    minMs: 1000,
    description: "How often the running daemon finishes failed StopVMs and deletes peer VMs no sandbox claims.",
  }),
  // Ours: upstream has no cluster identifier.
  clusterName: stringField({
    env: "CLUSTER_NAME",
    flag: "cluster-name",
    default: "default",
    description: "Name tagged on every VM so orphans can be found per cluster (with the cluster's id: CLUSTER_ID).",
  }),
  // Ours: CLUSTER_NAME alone is not unique (the shipped overlays all say "default").
  clusterId: stringField({
    env: "CLUSTER_ID",
    flag: "cluster-id",
    defaultDoc: "kept in CAA_STATE_DIR; first the kube-system namespace UID in a cluster, else random",
    description:
      "Id unique to the cluster, tagged on every VM with CLUSTER_NAME; a VM is deleted only when its marks are exactly this daemon's.",
  }),
  // Ours (upstream always reads the pod's pull secrets, with no way to turn it off).
  registryAuth: enumField({
    env: "REGISTRY_AUTH",
    flag: "registry-auth",
    default: "on",
    values: ["on", "off"] as const,
    description:
      "Deliver the pod's image pull secrets (and its service account's) to the peer VM's image puller: on or off.",
  }),
  // Ours.
  registryAuthFile: stringField({
    env: "REGISTRY_AUTH_FILE",
    flag: "registry-auth-file",
    description:
      "A containers-auth.json file given to every pod instead of its pull secrets (nodes outside Kubernetes).",
  }),
  // Ours: the shim may still be closing its agent connection when StopVM returns.
  socketLingerMs: durationField({
    env: "SOCKET_LINGER",
    flag: "socket-linger",
    default: "10s",
    description: "How long a stopped sandbox's agent socket keeps answering errors before it disappears.",
  }),
  // Ours: upstream has no pool of booted VMs (see docs/warm-pool.md).
  warmPoolSize: intField({
    env: "WARM_POOL_SIZE",
    flag: "warm-pool-size",
    default: "0",
    min: 0,
    max: 1000,
    description:
      "Booted, unclaimed peer VMs this node keeps ready for pods that fit them; 0 turns the pool off (and deletes its VMs). Needs the daemon's own CA.",
  }),
  warmPoolInstanceType: stringField({
    env: "WARM_POOL_INSTANCE_TYPE",
    flag: "warm-pool-instance-type",
    defaultDoc: "the provider's default type",
    description: "Instance type of pool VMs; pods asking for another type or size start cold.",
  }),
  warmPoolMaxAgeMs: durationField({
    env: "WARM_POOL_MAX_AGE",
    flag: "warm-pool-max-age",
    default: "2h",
    minMs: 60_000,
    maxMs: 86_400_000,
    description: "Unclaimed pool VMs ready for longer than this are deleted and replaced.",
  }),
  // Ours, for the crash tests only.
  testFailpoint: enumField({
    env: "CAA_TEST_FAILPOINT",
    values: FAILPOINTS,
    description: "Tests only: the daemon kills itself (SIGKILL) at this point of StartVM or StopVM.",
  }),
});

export type DaemonConfig = ConfigOf<typeof daemonConfigSpec>;

/** Loads the daemon's settings; see loadConfig for errors. */
export function loadDaemonConfig(options: LoadOptions): DaemonConfig {
  const config = loadConfig(daemonConfigSpec, options);
  const problems: ConfigError[] = [];
  const suites = cipherSuitesError(config.tlsCipherSuites);
  if (suites !== undefined) problems.push(suites);
  // Operator certificates come as a set: a CA to check the forwarders with, and our own pair.
  const certs = { CACERT_FILE: config.caCertFile, CERT_FILE: config.certFile, CERT_KEY: config.certKey };
  const given = Object.entries(certs).filter(([, v]) => v !== undefined);
  if (given.length > 0 && given.length < 3) {
    for (const [variable, value] of Object.entries(certs)) {
      if (value === undefined)
        problems.push(
          new ConfigError({
            variable,
            expected: `required with ${given.map(([k]) => k).join(" and ")} (operator certificates: CACERT_FILE, CERT_FILE and CERT_KEY together)`,
            source: "missing",
          }),
        );
    }
  }
  if (given.length > 0 && config.disableTls) {
    problems.push(
      new ConfigError({
        variable: "DISABLE_TLS",
        value: "true",
        expected: `false when ${given.map(([k]) => k).join(", ")} ${given.length === 1 ? "is" : "are"} set (certificates for a link without TLS)`,
        source: "env",
      }),
    );
  }
  // A pool VM is handed its pod over mutual TLS, with an identity from the daemon's own CA:
  // without TLS anyone could claim it; operator certificates come with the image, not per VM.
  if (config.warmPoolSize > 0 && config.disableTls)
    problems.push(
      new ConfigError({
        variable: "WARM_POOL_SIZE",
        value: String(config.warmPoolSize),
        expected: "0 when DISABLE_TLS=true (pool VMs are claimed over mutual TLS only)",
        source: "env",
      }),
    );
  if (config.warmPoolSize > 0 && given.length > 0)
    problems.push(
      new ConfigError({
        variable: "WARM_POOL_SIZE",
        value: String(config.warmPoolSize),
        expected:
          "0 when CACERT_FILE, CERT_FILE or CERT_KEY is set (pool VMs get their identity from the daemon's own CA)",
        source: "env",
      }),
    );
  if (config.externalModule !== undefined) {
    if (!config.externalModule.startsWith("/"))
      problems.push(
        new ConfigError({
          variable: "CLOUD_PROVIDER_EXTERNAL_MODULE",
          value: config.externalModule,
          expected: "an absolute path",
          source: "env",
        }),
      );
    if (config.externalModuleSha256 === undefined) {
      problems.push(
        new ConfigError({
          variable: "CLOUD_PROVIDER_EXTERNAL_MODULE_SHA256",
          expected: "required with CLOUD_PROVIDER_EXTERNAL_MODULE (the module's SHA-256, as sha256sum prints it)",
          source: "missing",
        }),
      );
    }
  } else if (config.externalModuleSha256 !== undefined) {
    problems.push(
      new ConfigError({
        variable: "CLOUD_PROVIDER_EXTERNAL_MODULE_SHA256",
        value: config.externalModuleSha256,
        expected: "unset unless CLOUD_PROVIDER_EXTERNAL_MODULE is set",
        source: "env",
      }),
    );
  }
  if (config.externalModuleSha256 !== undefined && !/^[0-9a-fA-F]{64}$/.test(config.externalModuleSha256)) {
    problems.push(
      new ConfigError({
        variable: "CLOUD_PROVIDER_EXTERNAL_MODULE_SHA256",
        value: config.externalModuleSha256,
        expected: "64 hexadecimal digits (a SHA-256)",
        source: "env",
      }),
    );
  }
  if (problems.length > 0) throw new InvalidConfigError(problems);
  return config;
}
