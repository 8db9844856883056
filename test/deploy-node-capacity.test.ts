// Node capacity against a local API server, driven by the real @kubernetes/client-node.
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { ApiException, CoreV1Api, KubeConfig, setHeaderOptions } from "@kubernetes/client-node";
import pino from "pino";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { loadKubeConfig, type NodeCapacity, type NodeCapacityOptions, startNodeCapacity } from "../src/k8s/index.ts";
import { FakeKubeApi } from "./support/fake-kube-api.ts";
import { TestCa } from "./support/test-certs.ts";

const BASE_CAPACITY = { cpu: "4", memory: "16318812Ki", pods: "110" };

let api: FakeKubeApi;
let dir: string;
const handles: NodeCapacity[] = [];

function capturingLogger() {
  const lines: Array<{ level: string; msg: string; err?: string }> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split("\n"))
        if (line.trim() !== "") lines.push(JSON.parse(line) as (typeof lines)[number]);
      done();
    },
  });
  const logger = pino({ level: "debug", formatters: { level: (label) => ({ level: label }) } }, stream);
  return { logger, lines, warnings: () => lines.filter((l) => l.level === "warn") };
}

function kubeConfigOf(text: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(text);
  return kc;
}

function start(o: Partial<NodeCapacityOptions> & Pick<NodeCapacityOptions, "logger">): NodeCapacity {
  const handle = startNodeCapacity({
    nodeName: "worker-1",
    limit: 10,
    kubeConfig: kubeConfigOf(api.kubeconfig()),
    intervalMs: 60_000,
    backoffMs: 10,
    ...o,
  });
  handles.push(handle);
  return handle;
}

async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not reached in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}

beforeAll(async () => {
  api = await FakeKubeApi.start();
  dir = await mkdtemp(path.join(tmpdir(), "node-capacity-"));
});

afterAll(async () => {
  await api.close();
  await rm(dir, { recursive: true, force: true });
});

beforeEach(() => {
  api.addNode("worker-1", BASE_CAPACITY);
  api.clearFaults();
  api.requests.length = 0;
});

afterEach(async () => {
  await Promise.all(handles.splice(0).map((h) => h.stop()));
});

describe("advertising kata.peerpods.io/vm", () => {
  it("sets the capacity at start with a merge patch of the status subresource, keeping the rest", async () => {
    const { logger, warnings } = capturingLogger();
    const handle = start({ logger });
    expect(await handle.firstRound).toEqual({ outcome: "set" });
    expect(api.node("worker-1")?.status.capacity).toEqual({ ...BASE_CAPACITY, "kata.peerpods.io/vm": "10" });
    expect(api.node("worker-1")?.status.allocatable).toEqual(BASE_CAPACITY);
    expect(api.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      "GET /api/v1/nodes/worker-1",
      "PATCH /api/v1/nodes/worker-1/status",
    ]);
    const patch = api.requests[1]!;
    expect(patch.contentType).toBe("application/merge-patch+json");
    expect(JSON.parse(patch.body)).toEqual({ status: { capacity: { "kata.peerpods.io/vm": "10" } } });
    expect(patch.authorization).toBe(`Bearer ${api.token}`);
    expect(warnings()).toEqual([]);
  });

  it("leaves a capacity already right alone, and changes one that differs", async () => {
    api.resetCapacity("worker-1", { ...BASE_CAPACITY, "kata.peerpods.io/vm": "10" });
    const { logger } = capturingLogger();
    expect(await start({ logger }).firstRound).toEqual({ outcome: "unchanged" });
    expect(api.requests.map((r) => r.method)).toEqual(["GET"]);

    api.requests.length = 0;
    expect(await start({ logger, limit: 3 }).firstRound).toEqual({ outcome: "set" });
    expect(api.node("worker-1")?.status.capacity?.["kata.peerpods.io/vm"]).toBe("3");
  });

  it("puts the capacity back on the next round after the node lost it", async () => {
    const { logger } = capturingLogger();
    const handle = start({ logger, intervalMs: 50 });
    await handle.firstRound;
    api.resetCapacity("worker-1", BASE_CAPACITY);
    await until(() => api.node("worker-1")?.status.capacity?.["kata.peerpods.io/vm"] === "10");
    expect(api.requests.filter((r) => r.method === "PATCH").length).toBe(2);
  });

  it("retries conflicts, throttling and server errors within a round, honouring Retry-After", async () => {
    api.failNext("PATCH", { status: 409 });
    api.failNext("GET", { status: 429, retryAfterSeconds: 0 });
    api.failNext("PATCH", { status: 503 });
    const { logger, warnings } = capturingLogger();
    expect(await start({ logger, attempts: 5 }).firstRound).toEqual({ outcome: "set" });
    // GET (429) · GET · PATCH (409) · GET · PATCH (503) · GET · PATCH
    expect(api.requests.map((r) => r.method)).toEqual(["GET", "GET", "PATCH", "GET", "PATCH", "GET", "PATCH"]);
    expect(api.node("worker-1")?.status.capacity?.["kata.peerpods.io/vm"]).toBe("10");
    expect(warnings()).toEqual([]);
  });

  it("warns once when the API keeps failing, never throws, and says when it is back", async () => {
    api.failNext("GET", { status: 500 }, 6);
    const { logger, lines, warnings } = capturingLogger();
    const handle = start({ logger, attempts: 3 });
    const first = await handle.firstRound;
    expect(first.outcome).toBe("failed");
    expect(first.reason).toBe("HTTP 500: injected 500");
    expect((await handle.refresh()).outcome).toBe("failed");
    expect(warnings()).toHaveLength(1);
    expect(warnings()[0]!.msg).toContain("cannot advertise kata.peerpods.io/vm on node worker-1");
    expect((await handle.refresh()).outcome).toBe("set");
    expect(lines.at(-1)!.msg).toBe("advertised the node's peer-pod capacity");
  });

  it("does not retry a missing node or a forbidden patch, and explains the RBAC it needs", async () => {
    const { logger, warnings } = capturingLogger();
    expect(await start({ logger, nodeName: "no-such-node" }).firstRound).toEqual({
      outcome: "failed",
      reason: 'HTTP 404: nodes "no-such-node" not found',
    });
    expect(api.requests).toHaveLength(1);

    api.requests.length = 0;
    api.failNext("PATCH", { status: 403 });
    const forbidden = await start({ logger }).firstRound;
    expect(forbidden.outcome).toBe("failed");
    expect(forbidden.reason).toMatch(
      /^HTTP 403: injected 403 \(the service account needs get on nodes and patch on nodes\/status\)$/,
    );
    expect(api.requests.map((r) => r.method)).toEqual(["GET", "PATCH"]);
    expect(warnings()).toHaveLength(2);
  });

  it("rejects a wrong token as the API server would", async () => {
    const { logger } = capturingLogger();
    const round = await start({ logger, kubeConfig: kubeConfigOf(api.kubeconfig({ token: "wrong" })) }).firstRound;
    expect(round.outcome).toBe("failed");
    expect(round.reason).toMatch(/^HTTP 401/);
  });
});

describe("the local API server", () => {
  it("takes client-node's default PATCH format (JSON Patch) as the API server does, and refuses unknown ones", async () => {
    const core = kubeConfigOf(api.kubeconfig()).makeApiClient(CoreV1Api);
    await core.patchNodeStatus({
      name: "worker-1",
      body: [{ op: "add", path: "/status/capacity/example.com~1thing", value: "2" }],
    });
    expect(api.requests.at(-1)!.contentType).toBe("application/json-patch+json");
    expect(api.node("worker-1")?.status.capacity?.["example.com/thing"]).toBe("2");
    const refused = await core
      .patchNodeStatus({ name: "worker-1", body: {} }, setHeaderOptions("Content-Type", "text/plain"))
      .catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(ApiException);
    expect((refused as ApiException<string>).code).toBe(415);
  });
});

describe("no Kubernetes API is a warning, not a failure", () => {
  it("when nothing is configured", async () => {
    const { logger, warnings } = capturingLogger();
    const handle = start({ logger, kubeConfig: undefined });
    expect(await handle.firstRound).toEqual({ outcome: "disabled", reason: "no Kubernetes API configured" });
    expect(warnings().map((w) => w.msg)).toEqual([expect.stringContaining("no Kubernetes API configured")]);
    await handle.stop();
  });

  it("when the API does not answer", async () => {
    const { logger, warnings } = capturingLogger();
    const closed = await FakeKubeApi.start();
    const url = closed.url;
    await closed.close();
    const round = await start({ logger, attempts: 2, kubeConfig: kubeConfigOf(api.kubeconfig({ server: url })) })
      .firstRound;
    expect(round.outcome).toBe("failed");
    expect(round.reason).toMatch(/ECONNREFUSED/);
    expect(warnings()).toHaveLength(1);
  });

  it("when the API's certificate is not the one trusted", async () => {
    const { logger } = capturingLogger();
    const other = await TestCa.create("another CA");
    const round = await start({ logger, attempts: 1, kubeConfig: kubeConfigOf(api.kubeconfig({ caPem: other.pem })) })
      .firstRound;
    expect(round.outcome).toBe("failed");
    expect(round.reason).toMatch(/certificate|self-signed|verify/i);
  });

  it("stops promptly even while a round waits to retry", async () => {
    // A Retry-After longer than the test's timeout: only stop() can end the wait.
    api.failNext("GET", { status: 503, retryAfterSeconds: 120 }, 3);
    const { logger } = capturingLogger();
    const handle = start({ logger, attempts: 3 });
    await until(() => api.requests.length >= 1);
    await handle.stop();
    expect(await handle.firstRound).toEqual({ outcome: "failed", reason: "stopped" });
    expect(api.requests).toHaveLength(1);
  });
});

describe("finding the API", () => {
  it("reads KUBECONFIG", async () => {
    const file = path.join(dir, "kubeconfig");
    await writeFile(file, api.kubeconfig());
    const source = loadKubeConfig({ env: { KUBECONFIG: file } });
    expect(source?.origin).toBe(`KUBECONFIG ${file}`);
    const { logger } = capturingLogger();
    expect(await start({ logger, kubeConfig: source!.kubeConfig }).firstRound).toEqual({ outcome: "set" });
  });

  it("uses the in-cluster service account, re-reading its token file", async () => {
    const sa = path.join(dir, "serviceaccount");
    await mkdir(sa, { recursive: true });
    await writeFile(path.join(sa, "token"), api.token);
    await writeFile(path.join(sa, "ca.crt"), api.ca.pem);
    const source = loadKubeConfig({
      env: { KUBERNETES_SERVICE_HOST: "127.0.0.1", KUBERNETES_SERVICE_PORT: String(api.port) },
      serviceAccountDir: sa,
    });
    expect(source?.origin).toBe("in-cluster service account");
    const { logger } = capturingLogger();
    expect(await start({ logger, kubeConfig: source!.kubeConfig }).firstRound).toEqual({ outcome: "set" });
    expect(api.requests.every((r) => r.authorization === `Bearer ${api.token}`)).toBe(true);
  });

  it("finds nothing outside a cluster, and fails loudly on a broken KUBECONFIG", async () => {
    expect(loadKubeConfig({ env: {}, serviceAccountDir: path.join(dir, "absent") })).toBeUndefined();
    expect(
      loadKubeConfig({
        env: { KUBERNETES_SERVICE_HOST: "10.0.0.1", KUBERNETES_SERVICE_PORT: "443" },
        serviceAccountDir: path.join(dir, "absent"),
      }),
    ).toBeUndefined();
    expect(() => loadKubeConfig({ env: { KUBECONFIG: path.join(dir, "missing.yaml") } })).toThrow(/ENOENT/);
  });
});
