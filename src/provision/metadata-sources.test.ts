// The provisioner's AWS (IMDSv2) and Azure (IMDS userData) paths against local metadata
// services in network namespaces this test makes (the link-local metadata address exists only
// there): good, missing, slow and malformed answers, each with what the console says.
import { type ChildProcess, type ChildProcessByStdio, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { testForwarderConfig } from "../../test/support/forwarder-config.ts";
import { useTestScope } from "../../test/support/test-scope.ts";
import { buildUserData } from "../userdata/index.ts";
import { runCommand } from "../util/run-command.ts";

const scope = useTestScope("provision");
const REPO = path.resolve(import.meta.dirname, "../..");
const TOKEN = `tok-${randomBytes(8).toString("hex")}`;
const config = testForwarderConfig("sb-1");
const initdata =
  'version = "0.1.0"\nalgorithm = "sha256"\n[data]\n"aa.toml" = "[token_configs]\\n"\n"policy.rego" = "package agent_policy\\n"\n';
const userData = buildUserData(config, initdata);
const AWS_TOKEN = "PUT /latest/api/token";
const AWS_USER_DATA = "GET /latest/user-data";
const AZURE_USER_DATA = "GET /metadata/instance/compute/userData?api-version=2021-01-01&format=text";

interface Route {
  status: number;
  body?: string;
  base64?: boolean;
  delayMs?: number;
  header?: string;
}

/** Runs the repository's `script` with this Node inside namespace `ns`, its output piped. */
function nodeIn(ns: string, script: string, args: string[]): ChildProcessByStdio<null, Readable, Readable> {
  return spawn("ip", ["netns", "exec", ns, process.execPath, path.join(REPO, script), ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/** A namespace with the metadata address on its loopback and, when given routes, a metadata
 * service answering them. */
async function metadataNamespace(
  routes: Record<string, Route> | undefined,
): Promise<{ ns: string; requests: () => string[] }> {
  const ns = `caa-md-${randomBytes(4).toString("hex")}`;
  await runCommand("ip", ["netns", "add", ns]);
  scope.defer(() => runCommand("ip", ["netns", "del", ns]));
  await runCommand("ip", ["-n", ns, "link", "set", "lo", "up"]);
  await runCommand("ip", ["-n", ns, "addr", "add", "169.254.169.254/32", "dev", "lo"]);
  let log = "";
  if (routes !== undefined) {
    const child = nodeIn(ns, "test/support/metadata-server-entry.ts", [JSON.stringify(routes)]);
    scope.defer(() => stopChild(child));
    child.stderr.on("data", (c: Buffer) => (log += c.toString()));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (c: Buffer) => c.toString().includes("ready") && resolve());
      child.once("exit", (code) => reject(new Error(`metadata service exited with ${code}: ${log}`)));
    });
  }
  return { ns, requests: () => log.split("\n").filter(Boolean) };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await exited;
}

/** Runs the provisioner (the CLI the image runs) inside the namespace, writing below `root`. */
async function provisionIn(
  ns: string,
  source: string,
  root: string,
  deadline = "3s",
  extra: readonly string[] = [],
): Promise<{ code: number | null; console: string }> {
  const child = nodeIn(ns, "src/cli/podvm-provision.ts", [
    "--source",
    source,
    "--root",
    root,
    "--deadline",
    deadline,
    "--no-pod-netns",
    ...extra,
  ]);
  let out = "";
  child.stdout.on("data", (c: Buffer) => (out += c.toString()));
  child.stderr.on("data", (c: Buffer) => (out += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  return { code, console: out };
}

const aws = (userDataRoute: Route): Record<string, Route> => ({
  [AWS_TOKEN]: { status: 200, body: TOKEN, header: "X-aws-ec2-metadata-token-ttl-seconds: 300" },
  [AWS_USER_DATA]: { header: `X-aws-ec2-metadata-token: ${TOKEN}`, ...userDataRoute },
});
const azure = (route: Route): Record<string, Route> => ({ [AZURE_USER_DATA]: { header: "Metadata: true", ...route } });

async function expectProvisioned(root: string): Promise<void> {
  const daemon = path.join(root, "run/peerpod/daemon.json");
  expect(JSON.parse(await fs.readFile(daemon, "utf8"))).toEqual(config);
  expect((await fs.stat(daemon)).mode & 0o777).toBe(0o600);
  expect(await fs.readFile(path.join(root, "run/peerpod/aa.toml"), "utf8")).toBe("[token_configs]\n");
  expect(await fs.readFile(path.join(root, "run/peerpod/policy.rego"), "utf8")).toBe("package agent_policy\n");
  const { createHash } = await import("node:crypto");
  expect(await fs.readFile(path.join(root, "run/peerpod/initdata.digest"))).toEqual(
    createHash("sha256").update(initdata).digest(),
  );
}

async function expectNothingWritten(root: string): Promise<void> {
  expect(await fs.readdir(path.join(root, "run/peerpod")).catch(() => [])).toEqual([]);
}

describe("provisioning from AWS IMDSv2", () => {
  it("asks for a token first, reads the user-data with it, writes its files and unpacks initdata", async () => {
    const { ns, requests } = await metadataNamespace(aws({ status: 200, body: userData }));
    const root = await scope.tempDir();
    const r = await provisionIn(ns, "aws", root);
    expect(r).toMatchObject({ code: 0 });
    expect(r.console).toContain(`podvm-provision: user-data from aws-imds (${userData.length} bytes)`);
    expect(r.console).toMatch(/initdata digest sha256:[0-9a-f]{64}/);
    expect(requests()).toEqual([AWS_TOKEN, AWS_USER_DATA]);
    await expectProvisioned(root);
  });

  it("with --wait-online, runs that program (--any) once before asking, and asks anyway when it fails", async () => {
    for (const exit of [0, 1]) {
      const { ns, requests } = await metadataNamespace(aws({ status: 200, body: userData }));
      const root = await scope.tempDir();
      const waitOnline = path.join(root, "wait-online");
      // Records its arguments and the requests the metadata service had seen by then.
      await fs.writeFile(waitOnline, `#!/bin/sh\necho "$@" >> ${root}/waited\nexit ${exit}\n`, { mode: 0o755 });
      const r = await provisionIn(ns, "aws", root, "3s", ["--wait-online", waitOnline]);
      expect(r, r.console).toMatchObject({ code: 0 });
      expect(r.console).toContain(`podvm-provision: waiting for the first address (${waitOnline} --any)`);
      expect(await fs.readFile(path.join(root, "waited"), "utf8")).toBe("--any --timeout=3\n");
      if (exit !== 0) expect(r.console).toContain("podvm-provision: no address yet (");
      expect(requests()).toEqual([AWS_TOKEN, AWS_USER_DATA]);
      await expectProvisioned(root);
    }
  });

  it("takes gzipped user-data as EC2 hands it back", async () => {
    const { ns } = await metadataNamespace(
      aws({ status: 200, body: gzipSync(userData).toString("base64"), base64: true }),
    );
    const root = await scope.tempDir();
    const r = await provisionIn(ns, "aws", root);
    expect(r.console).toContain("user-data from aws-imds");
    expect(r.code, r.console).toBe(0);
    await expectProvisioned(root);
  });

  it("says the instance has no user-data (404), without retrying, and writes nothing", async () => {
    const { ns, requests } = await metadataNamespace(aws({ status: 404 }));
    const root = await scope.tempDir();
    const r = await provisionIn(ns, "aws", root);
    expect(r.code).toBe(1);
    expect(r.console).toContain(
      "podvm-provision: aws-imds: missing: GET http://169.254.169.254/latest/user-data: HTTP 404 (the instance has no user-data)",
    );
    expect(r.console).toMatch(/podvm-provision: FAILED: no user-data: aws-imds \(missing: /);
    expect(requests()).toEqual([AWS_TOKEN, AWS_USER_DATA]);
    await expectNothingWritten(root);
  });

  it("says so when no metadata service answers at all", async () => {
    const { ns } = await metadataNamespace(undefined);
    const root = await scope.tempDir();
    const r = await provisionIn(ns, "aws", root);
    expect(r.code).toBe(1);
    expect(r.console).toContain("aws-imds: missing: PUT http://169.254.169.254/latest/api/token: ECONNREFUSED");
  });

  it("gives up on a service that does not answer in time, retrying until the deadline", async () => {
    const { ns, requests } = await metadataNamespace(aws({ status: 200, body: userData, delayMs: 60_000 }));
    const root = await scope.tempDir();
    const r = await provisionIn(ns, "aws", root, "10s");
    expect(r.code).toBe(1);
    expect(r.console).toContain(
      "aws-imds: failed: GET http://169.254.169.254/latest/user-data: no answer within 2000 ms",
    );
    expect(requests().filter((q) => q === AWS_USER_DATA).length).toBeGreaterThanOrEqual(2);
    await expectNothingWritten(root);
  });

  it("refuses user-data that is not a cloud-config, and user-data without the daemon's TLS material", async () => {
    const bad = await metadataNamespace(aws({ status: 200, body: "#!/bin/sh\nrm -rf /\n" }));
    const root = await scope.tempDir();
    const r = await provisionIn(bad.ns, "aws", root);
    expect(r.code).toBe(1);
    expect(r.console).toContain(
      "podvm-provision: FAILED: user-data from aws-imds: user-data is not a #cloud-config document",
    );
    const noTls = await metadataNamespace(aws({ status: 200, body: buildUserData({ ...config, tls: undefined }) }));
    const r2 = await provisionIn(noTls.ns, "aws", root);
    expect(r2.code).toBe(1);
    expect(r2.console).toContain(
      "carries no TLS material in /run/peerpod/daemon.json (is the daemon running with DISABLE_TLS?) and the image holds no operator certificates in /etc/peerpod/tls: the agent is never served without it",
    );
    await expectNothingWritten(root);
  });

  it("refuses a token that is not one", async () => {
    const { ns } = await metadataNamespace({ [AWS_TOKEN]: { status: 200, body: "a\nb" } });
    const r = await provisionIn(ns, "aws", await scope.tempDir());
    expect(r.code).toBe(1);
    expect(r.console).toContain(
      "aws-imds: failed: PUT http://169.254.169.254/latest/api/token: the answer is not a token",
    );
  });
});

describe("provisioning from Azure IMDS", () => {
  it("reads userData (base64) with the Metadata header and writes its files", async () => {
    const { ns, requests } = await metadataNamespace(
      azure({ status: 200, body: Buffer.from(userData).toString("base64") }),
    );
    const root = await scope.tempDir();
    const r = await provisionIn(ns, "azure", root);
    expect(r.code, r.console).toBe(0);
    expect(requests()).toEqual([AZURE_USER_DATA]);
    await expectProvisioned(root);
  });

  it("says the VM has no userData when IMDS answers empty", async () => {
    const { ns } = await metadataNamespace(azure({ status: 200, body: "" }));
    const root = await scope.tempDir();
    const r = await provisionIn(ns, "azure", root);
    expect(r.code).toBe(1);
    expect(r.console).toContain(
      "azure-imds: missing: GET http://169.254.169.254/metadata/instance/compute/userData?api-version=2021-01-01&format=text: the VM has no userData",
    );
    await expectNothingWritten(root);
  });

  it("names a malformed answer and a slow one", async () => {
    const bad = await metadataNamespace(azure({ status: 200, body: "{not base64}" }));
    const root = await scope.tempDir();
    const r = await provisionIn(bad.ns, "azure", root, "1s");
    expect(r.code).toBe(1);
    expect(r.console).toContain(
      "azure-imds: failed: GET http://169.254.169.254/metadata/instance/compute/userData?api-version=2021-01-01&format=text: userData is not base64",
    );
    const slow = await metadataNamespace(
      azure({ status: 200, body: Buffer.from(userData).toString("base64"), delayMs: 60_000 }),
    );
    const r2 = await provisionIn(slow.ns, "azure", root, "1s");
    expect(r2.code).toBe(1);
    expect(r2.console).toContain("no answer within 2000 ms");
    await expectNothingWritten(root);
  });

  it("refuses invalid initdata, leaving no forwarder configuration behind", async () => {
    const ud = buildUserData(config, 'version = "0.1.0"\nalgorithm = "md5"\n[data]\n');
    const { ns } = await metadataNamespace(azure({ status: 200, body: Buffer.from(ud).toString("base64") }));
    const root = await scope.tempDir();
    const r = await provisionIn(ns, "azure", root);
    expect(r.code).toBe(1);
    expect(r.console).toContain(
      'FAILED: user-data from azure-imds: initdata: algorithm is "md5"; expected one of sha256, sha384, sha512',
    );
    await expect(fs.access(path.join(root, "run/peerpod/daemon.json"))).rejects.toThrow();
  });
});
