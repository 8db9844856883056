// Drop-in for upstream's peer-pods-cm: ConfigMaps rendered from upstream's Helm values start the
// daemon with exactly the expected configuration; every upstream setting we do not implement
// says so when set; and the compatibility table, our config specs and docs/coming-from-go.md
// agree, so no upstream name can be ignored in silence.

import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { awsConfigSpec, awsProviderConfig } from "../providers/aws/config.ts";
import { azureConfigSpec, azureProviderConfig } from "../providers/azure/config.ts";
import { gcpConfigSpec, gcpProviderConfig } from "../providers/gcp/config.ts";
import { libvirtConfigSpec, libvirtProviderConfig } from "../providers/libvirt/config.ts";
import { vsphereConfigSpec } from "../providers/vsphere/config.ts";
import { type ConfigSpec, daemonConfigSpec } from "../src/config/index.ts";
import {
  isUpstreamDefault,
  loadDaemonSettings,
  renderUpstreamTable,
  UPSTREAM_FLAGS,
  UPSTREAM_SETTINGS,
  type UpstreamSetting,
  upstreamSettingsFor,
} from "../src/config/upstream/index.ts";
import { AWS_DEFAULT_CONFIG } from "./support/aws-default-config.ts";
import { cleanupDaemonDirs, type DaemonDirs, makeDaemonDirs, startDaemon } from "./support/daemon-process.ts";
import { FAKE_AMI, FAKE_SG, FAKE_SUBNET, FakeEc2 } from "./support/fake-ec2.ts";
import { localVmLauncher } from "./support/fake-ec2-local-launcher.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const DAEMON = path.join(ROOT, "src/cli/cloud-api-adaptor.ts");

type Env = Record<string, string>;

function helmFixture(provider: "aws" | "azure" | "gcp" | "libvirt"): Env {
  const doc = parseYaml(
    fs.readFileSync(path.join(ROOT, "test/fixtures/upstream-helm", `${provider}.yaml`), "utf8"),
  ) as { configMap: Env; secret: Env };
  return { ...doc.configMap, ...doc.secret };
}

const SPECS: Record<string, readonly ConfigSpec[]> = {
  aws: [daemonConfigSpec, awsConfigSpec],
  azure: [daemonConfigSpec, azureConfigSpec],
  gcp: [daemonConfigSpec, gcpConfigSpec],
  libvirt: [daemonConfigSpec, libvirtConfigSpec],
  vsphere: [daemonConfigSpec, vsphereConfigSpec],
};
const specEnvs = (provider: string): Set<string> =>
  new Set((SPECS[provider] ?? []).flatMap((spec) => Object.values(spec).map((f) => f.env)));

/** A value upstream would act on: the other boolean, or some text. */
function nonDefault(setting: UpstreamSetting): string {
  if (setting.bool === true) return isUpstreamDefault(setting, "true") ? "false" : "true";
  return setting.env === "TUNNEL_TYPE" ? "routing" : "operator-value";
}

describe("upstream Helm values rendered to peer-pods-cm", () => {
  it("aws: the daemon and provider settings are exactly upstream's defaults, with nothing to warn about", () => {
    const env = helmFixture("aws");
    const { config, findings } = loadDaemonSettings({ env, argv: [] });
    expect(findings).toEqual([]);
    expect(config).toMatchObject({
      cloudProvider: "aws",
      socketPath: "/run/peerpod/hypervisor.sock",
      podsDir: "/run/peerpod/pods",
      forwarderPort: 15150,
      proxyTimeoutMs: 300_000,
      vxlanPort: 4789,
      peerpodsLimitPerNode: 10,
      disableTls: false,
      pauseImage: undefined,
      initdata: undefined,
    });
    expect(awsProviderConfig(env)).toEqual({
      ...AWS_DEFAULT_CONFIG,
      region: "us-east-1",
      subnetId: "subnet-0a1b2c3d4e5f60718",
      securityGroupIds: ["sg-0a1b2c3d4e5f60718"],
      credentials: {
        accessKeyId: "AKIDEXAMPLE",
        secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        sessionToken: undefined,
      },
    });
  });

  it("azure: the daemon and provider settings are exactly upstream's defaults, with nothing to warn about", () => {
    const env = helmFixture("azure");
    const { config, findings } = loadDaemonSettings({ env, argv: [] });
    expect(findings).toEqual([]);
    expect(config).toMatchObject({
      cloudProvider: "azure",
      forwarderPort: 15150,
      proxyTimeoutMs: 300_000,
      peerpodsLimitPerNode: 10,
    });
    expect(azureProviderConfig(env)).toMatchObject({
      subscriptionId: "0b7a3c1e-5d2f-4e8a-9c6b-1f2e3d4c5b6a",
      region: "eastus",
      resourceGroup: "rg-peerpods",
      nsg: undefined,
      instanceSize: "Standard_DC2as_v5",
      instanceSizes: [],
      sshUsername: "peerpod",
      sshPublicKey: undefined,
      confidentialVm: true,
      tags: new Map(),
      usePublicIp: false,
      credential: {
        kind: "client-secret",
        tenantId: "72f988bf-86f1-41af-91ab-2d7cd011db47",
        clientId: "4e2a9c1d-0f3b-4a5c-8d7e-6b1a2c3d4e5f",
        clientSecret: "client-secret-value",
      },
    });
  });

  it("gcp: the settings are upstream's, the project-relative network included, with nothing to warn about", () => {
    const env = helmFixture("gcp");
    const { config, findings } = loadDaemonSettings({ env, argv: [] });
    expect(findings).toEqual([]);
    expect(config).toMatchObject({ cloudProvider: "gcp", forwarderPort: 15150, peerpodsLimitPerNode: 10 });
    expect(gcpProviderConfig(env)).toMatchObject({
      projectId: "peerpods-project",
      zone: "us-central1-a",
      region: "us-central1",
      network: "projects/peerpods-project/global/networks/default",
      subnetwork: undefined,
      machineType: "e2-medium",
      diskType: "pd-standard",
    });
    expect(gcpProviderConfig({ ...env, GCP_SUBNETWORK: "regions/us-central1/subnetworks/workers" }).subnetwork).toBe(
      "projects/peerpods-project/regions/us-central1/subnetworks/workers",
    );
  });

  it("libvirt: the image's -data-dir flag is the one thing warned about; the provider settings are upstream's", () => {
    const env = helmFixture("libvirt");
    const { config, findings } = loadDaemonSettings({ env, argv: ["-data-dir", "/opt/data-dir"] });
    expect(findings.map((f) => [f.level, f.variable])).toEqual([["warn", "-data-dir"]]);
    expect(config).toMatchObject({ cloudProvider: "libvirt", peerpodsLimitPerNode: 10 });
    expect(libvirtProviderConfig(env)).toMatchObject({
      uri: "qemu+ssh://root@192.168.122.1/system?no_verify=1",
      pool: "default",
      network: "default",
      volumeName: "podvm-base.qcow2",
      cpu: 2,
      memoryMiB: 8192,
    });
  });

  for (const provider of ["aws", "azure", "gcp", "libvirt"] as const) {
    it(`${provider}: every upstream setting we do not implement, set to a non-default value, gives exactly one finding naming it`, () => {
      const unimplemented = upstreamSettingsFor(provider).filter((s) => s.handling.kind !== "honoured");
      const env = { ...helmFixture(provider), ...Object.fromEntries(unimplemented.map((s) => [s.env, nonDefault(s)])) };
      const { findings } = loadDaemonSettings({ env, argv: [] });
      expect(findings.map((f) => f.variable)).toEqual(unimplemented.map((s) => s.env));
      for (const [finding, setting] of findings.map((f, i) => [f, unimplemented[i]!] as const)) {
        expect(finding.level).toBe(setting.handling.kind === "refused" ? "error" : "warn");
        expect(finding.message).toContain(`${setting.env}=${JSON.stringify(nonDefault(setting))}`);
      }
    });
  }
});

describe("the compatibility table", () => {
  // Settings our daemon spec accepts but does not act on yet: they are warned about.
  const ACCEPTED_NOT_USED = new Set(["PAUSE_IMAGE", "CLOUD_CONFIG_VERIFY"]);

  it("marks a setting honoured exactly when the running provider's configuration reads it", () => {
    const wrong: string[] = [];
    for (const setting of UPSTREAM_SETTINGS) {
      for (const provider of setting.providers ?? ["aws", "azure", "gcp", "libvirt", "vsphere"]) {
        const read = specEnvs(provider).has(setting.env);
        const honoured = setting.handling.kind === "honoured";
        if (honoured !== read && !(ACCEPTED_NOT_USED.has(setting.env) && read))
          wrong.push(`${provider}:${setting.env} (${setting.handling.kind}, ${read ? "read" : "not read"})`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("is what docs/coming-from-go.md shows: the daemon's table and each provider's, row for row", () => {
    const doc = fs.readFileSync(path.join(ROOT, "docs/coming-from-go.md"), "utf8");
    const missing = ([undefined, "aws", "azure", "gcp", "libvirt", "vsphere"] as const).filter(
      (p) => !doc.includes(renderUpstreamTable(p)),
    );
    expect(missing).toEqual([]);
  });

  it("is what docs/coming-from-go.md lists: every upstream variable and flag appears there", () => {
    const doc = fs.readFileSync(path.join(ROOT, "docs/coming-from-go.md"), "utf8");
    const missing = [
      ...UPSTREAM_SETTINGS.map((s) => `\`${s.env}\``),
      ...UPSTREAM_FLAGS.map((f) => `\`-${f.flag}\``),
    ].filter((name) => !doc.includes(name));
    expect(missing).toEqual([]);
  });
});

describe("the daemon process with upstream settings", () => {
  let dirs: DaemonDirs;
  let fake: FakeEc2;

  beforeAll(async () => {
    dirs = await makeDaemonDirs("caa-parity-");
    fake = await FakeEc2.start({
      launcher: localVmLauncher(path.join(dirs.root, "instances"), pino({ level: "silent" })),
      bootDelayMs: 50,
    });
  });
  afterAll(async () => {
    await fake?.close();
    if (dirs) expect(await cleanupDaemonDirs(dirs)).toEqual([]);
  });

  it("starts on the aws Helm fixture with upstream's defaults and warns once per unsupported setting and flag", async () => {
    const fixture = Object.fromEntries(
      Object.entries(helmFixture("aws")).filter(([k]) => k !== "PODS_DIR" && k !== "REMOTE_HYPERVISOR_ENDPOINT"),
    );
    const daemon = await startDaemon(
      dirs,
      {
        ...fixture,
        AWS_REGION: fake.region,
        PODVM_AMI_ID: FAKE_AMI,
        AWS_SUBNET_ID: FAKE_SUBNET,
        AWS_SG_IDS: FAKE_SG,
        AWS_ENDPOINT_URL_EC2: fake.endpoint,
        AWS_EC2_METADATA_DISABLED: "true",
        TUNNEL_TYPE: "routing",
        SECURE_COMMS_KBS_ADDR: "kbs.example:8080",
      },
      ["aws", "-pod-subnet-cidrs", "10.1.0.0/16", "-proxy-timeout", "90s"],
    );
    try {
      const lines = daemon
        .logs()
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map(
          (l) => JSON.parse(l) as { level: string; msg: string; config?: Record<string, unknown>; setting?: string },
        );
      const starting = lines.find((l) => l.msg === "starting");
      expect(starting?.config).toMatchObject({
        CLOUD_PROVIDER: "aws",
        FORWARDER_PORT: 15150,
        PROXY_TIMEOUT: "1m30s",
        VXLAN_PORT: 4789,
        PEERPODS_LIMIT_PER_NODE: 10,
        DISABLE_TLS: false,
      });
      expect(lines.filter((l) => l.level === "warn" && l.setting !== undefined).map((l) => l.setting)).toEqual([
        "TUNNEL_TYPE",
        "SECURE_COMMS_KBS_ADDR",
        "POD_SUBNET_CIDRS",
      ]);
      expect(daemon.logs()).not.toContain("wJalrXUtnFEMI");
    } finally {
      await daemon.stop();
    }
  });

  it("refuses to start on an upstream setting whose absence would weaken security, naming it and why", async () => {
    const child = spawn(process.execPath, [DAEMON, "local", "-enable-scratch-space", "-tls-skip-verify"], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", CAA_STATE_DIR: dirs.stateDir, PROBE_PORT: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    expect(code).toBe(2);
    expect(stderr).toMatch(/ENABLE_SCRATCH_SPACE="true": refused: encrypted scratch space is not implemented/);
    expect(stderr).toMatch(/TLS_SKIP_VERIFY="true": refused: skipping certificate verification/);
  });
});
