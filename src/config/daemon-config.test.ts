import { hostname } from "node:os";
import { describe, expect, it } from "vitest";
import { daemonConfigSpec, loadDaemonConfig } from "./daemon-config.ts";
import { InvalidConfigError } from "./errors.ts";
import { renderSpecMarkdown } from "./render.ts";

describe("daemon configuration", () => {
  it("has upstream's defaults", () => {
    expect(loadDaemonConfig({ env: {}, argv: [] })).toEqual({
      cloudProvider: "local",
      socketPath: "/run/peerpod/hypervisor.sock",
      podsDir: "/run/peerpod/pods",
      relaySocket: "/run/peerpod/relay.sock",
      startRelay: true,
      pauseImage: undefined,
      forwarderPort: 15150,
      proxyTimeoutMs: 300_000,
      vxlanPort: 4789,
      vxlanMinId: 555_000,
      hostInterface: undefined,
      peerpodsLimitPerNode: 10,
      disableTls: false,
      initdata: undefined,
      cloudConfigVerify: false,
      probePort: 8000,
      stateDir: "/var/lib/cloud-api-adaptor",
      logLevel: "info",
      nodeName: hostname(),
      clusterName: "default",
      clusterId: undefined,
      reconcileIntervalMs: 300_000,
      registryAuth: "on",
      registryAuthFile: undefined,
      socketLingerMs: 10_000,
      warmPoolSize: 0,
      warmPoolInstanceType: undefined,
      warmPoolMaxAgeMs: 7_200_000,
      testFailpoint: undefined,
    });
  });

  it("reads the warm pool settings and refuses a pool without the daemon's own mutual TLS", () => {
    const c = loadDaemonConfig({
      env: { WARM_POOL_SIZE: "3", WARM_POOL_INSTANCE_TYPE: "m6a.large" },
      argv: ["-warm-pool-max-age", "30m"],
    });
    expect([c.warmPoolSize, c.warmPoolInstanceType, c.warmPoolMaxAgeMs]).toEqual([3, "m6a.large", 1_800_000]);
    expect(() => loadDaemonConfig({ env: { WARM_POOL_SIZE: "-1" }, argv: [] })).toThrow(
      'WARM_POOL_SIZE="-1": expected an integer from 0 to 1000',
    );
    expect(() => loadDaemonConfig({ env: { WARM_POOL_MAX_AGE: "10s" }, argv: [] })).toThrow(
      'WARM_POOL_MAX_AGE="10s": expected a Go duration such as 5m or 300s, from 1m0s to 24h0m0s',
    );
    expect(() => loadDaemonConfig({ env: { WARM_POOL_SIZE: "2", DISABLE_TLS: "true" }, argv: [] })).toThrow(
      'WARM_POOL_SIZE="2": expected 0 when DISABLE_TLS=true',
    );
    expect(() =>
      loadDaemonConfig({
        env: { WARM_POOL_SIZE: "1", CACERT_FILE: "/c/ca.crt", CERT_FILE: "/c/tls.crt", CERT_KEY: "/c/tls.key" },
        argv: [],
      }),
    ).toThrow('WARM_POOL_SIZE="1": expected 0 when CACERT_FILE, CERT_FILE or CERT_KEY is set');
    // Off is always fine, with or without TLS.
    expect(loadDaemonConfig({ env: { WARM_POOL_SIZE: "0", DISABLE_TLS: "true" }, argv: [] }).warmPoolSize).toBe(0);
  });

  it("reads upstream's variable names", () => {
    const config = loadDaemonConfig({
      env: {
        CLOUD_PROVIDER: "aws",
        REMOTE_HYPERVISOR_ENDPOINT: "/tmp/hv.sock",
        PODS_DIR: "/tmp/pods",
        PAUSE_IMAGE: "registry.k8s.io/pause:3.9",
        FORWARDER_PORT: "15151",
        PROXY_TIMEOUT: "10m",
        VXLAN_PORT: "8472",
        PEERPODS_LIMIT_PER_NODE: "25",
        INITDATA: "aW5pdGRhdGE=",
        CLOUD_CONFIG_VERIFY: "true",
        PROBE_PORT: "8001",
        NODE_NAME: "worker-1",
        LOG_LEVEL: "DEBUG",
      },
      argv: [],
    });
    expect(config.cloudProvider).toBe("aws");
    expect(config.socketPath).toBe("/tmp/hv.sock");
    expect(config.podsDir).toBe("/tmp/pods");
    expect(config.pauseImage).toBe("registry.k8s.io/pause:3.9");
    expect(config.forwarderPort).toBe(15151);
    expect(config.proxyTimeoutMs).toBe(600_000);
    expect(config.vxlanPort).toBe(8472);
    expect(config.peerpodsLimitPerNode).toBe(25);
    expect(config.initdata).toBe("aW5pdGRhdGE=");
    expect(config.cloudConfigVerify).toBe(true);
    expect(config.probePort).toBe(8001);
    expect(config.nodeName).toBe("worker-1");
    expect(config.logLevel).toBe("debug");
  });

  it("accepts upstream's flags as its entrypoint passes them", () => {
    const config = loadDaemonConfig({
      env: {},
      argv: [
        "-pods-dir",
        "/run/peerpod/pods",
        "-vxlan-port",
        "8472",
        "-vxlan-min-id",
        "600000",
        "-disable-tls",
        "-socket",
        "/run/peerpod/hypervisor.sock",
      ],
    });
    expect(config.vxlanPort).toBe(8472);
    expect(config.vxlanMinId).toBe(600_000);
    expect(config.disableTls).toBe(true);
  });

  it("rejects out-of-range values", () => {
    let failure: unknown;
    try {
      loadDaemonConfig({
        env: { PEERPODS_LIMIT_PER_NODE: "ten", VXLAN_MIN_ID: "16777216", LOG_LEVEL: "verbose", PROXY_TIMEOUT: "0" },
        argv: [],
      });
    } catch (error) {
      failure = error;
    }
    expect(failure).toBeInstanceOf(InvalidConfigError);
    const message = (failure as InvalidConfigError).message;
    expect(message).toContain('PROXY_TIMEOUT="0": expected a Go duration such as 5m or 300s, from 1ms to 24h0m0s');
    expect(message).toContain('VXLAN_MIN_ID="16777216": expected an integer from 1 to 16777215');
    expect(message).toContain('PEERPODS_LIMIT_PER_NODE="ten": expected an integer');
    expect(message).toContain('LOG_LEVEL="verbose": expected one of fatal, error, warn, info, debug, trace, silent');
  });

  it("refuses durations that would overflow Node's timers, naming the variable", () => {
    // 720h as RECONCILE_INTERVAL made setInterval fire every millisecond; 600h as PROXY_TIMEOUT
    // made every StartVM time out at once.
    let failure: unknown;
    try {
      loadDaemonConfig({ env: { RECONCILE_INTERVAL: "720h", PROXY_TIMEOUT: "600h" }, argv: [] });
    } catch (error) {
      failure = error;
    }
    expect(failure).toBeInstanceOf(InvalidConfigError);
    const message = (failure as InvalidConfigError).message;
    expect(message).toContain(
      'RECONCILE_INTERVAL="720h": expected a Go duration such as 5m or 300s, from 1s to 24h0m0s',
    );
    expect(message).toContain('PROXY_TIMEOUT="600h": expected a Go duration such as 5m or 300s, from 1ms to 24h0m0s');
  });

  it("documents every variable", () => {
    const table = renderSpecMarkdown(daemonConfigSpec);
    for (const field of Object.values(daemonConfigSpec)) {
      expect(field.description.length).toBeGreaterThan(10);
      expect(table).toContain(`| \`${field.env}\` |`);
    }
  });
});

describe("daemon TLS settings", () => {
  const load = (env: Record<string, string>) => loadDaemonConfig({ env, argv: [] });
  const failure = (env: Record<string, string>) => {
    try {
      load(env);
    } catch (err) {
      return (err as Error).message;
    }
    throw new Error("expected an invalid configuration");
  };

  it("takes upstream's TLS profile names and refuses others, naming the variable", () => {
    expect(
      load({
        TLS_MIN_VERSION: "VersionTLS13",
        TLS_CIPHER_SUITES: "TLS_AES_128_GCM_SHA256, TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
      }),
    ).toMatchObject({
      tlsMinVersion: "VersionTLS13",
      tlsCipherSuites: ["TLS_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"],
    });
    expect(failure({ TLS_MIN_VERSION: "VersionTLS11" })).toContain(
      'TLS_MIN_VERSION="VersionTLS11": expected one of VersionTLS12, VersionTLS13',
    );
    expect(failure({ TLS_CIPHER_SUITES: "TLS_AES_128_GCM_SHA256,ECDHE-RSA-AES128-GCM-SHA256" })).toContain(
      "(unknown: ECDHE-RSA-AES128-GCM-SHA256)",
    );
  });

  it("wants operator certificates as a set of three, and not with DISABLE_TLS", () => {
    const message = failure({ CACERT_FILE: "/etc/certificates/ca.crt" });
    expect(message).toContain("CERT_FILE: required with CACERT_FILE");
    expect(message).toContain("CERT_KEY: required with CACERT_FILE");
    expect(failure({ CACERT_FILE: "/a", CERT_FILE: "/b", CERT_KEY: "/c", DISABLE_TLS: "true" })).toContain(
      'DISABLE_TLS="true": expected false when CACERT_FILE, CERT_FILE, CERT_KEY are set',
    );
  });
});
