// The peer-pods webhook over real HTTPS: AdmissionReview v1 in, JSONPatch out, the patch applied
// to the pod and compared with the exact pod the worker should get.
import { spawn } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { connect as connectTls } from "node:tls";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MUTATE_PATH, startWebhookServer, type WebhookServer } from "../src/webhook/index.ts";
import { type HttpsReply, httpsCall } from "./support/https-post.ts";
import { applyJsonPatch, type PatchOp } from "./support/json-patch-apply.ts";
import { TestCa, type TestTlsMaterial } from "./support/test-certs.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const OWN_NAMESPACE = "confidential-containers-system";

type Pod = Record<string, unknown>;

let dir: string;
let ca: TestCa;
let tls: TestTlsMaterial;
let server: WebhookServer;
let uidCounter = 0;

async function writeAtomically(file: string, text: string): Promise<void> {
  await writeFile(`${file}.tmp`, text);
  await rename(`${file}.tmp`, file);
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "webhook-test-"));
  ca = await TestCa.create("webhook test CA");
  tls = await ca.issueServer({ commonName: "peerpods-webhook" });
  await writeFile(path.join(dir, "tls.crt"), tls.cert);
  await writeFile(path.join(dir, "tls.key"), tls.key);
  server = await startWebhookServer({
    port: 0,
    host: "127.0.0.1",
    certFile: path.join(dir, "tls.crt"),
    keyFile: path.join(dir, "tls.key"),
    tlsPollIntervalMs: 50,
    policy: {
      runtimeClass: "kata-remote",
      excludedNamespaces: new Set(["kube-system", "kube-public", "kube-node-lease", OWN_NAMESPACE]),
    },
    logger: pino({ level: "silent" }),
  });
});

afterAll(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

function reviewBody(
  pod: Pod,
  o: { namespace?: string; operation?: string; kind?: string } = {},
): { uid: string; body: string } {
  const uid = `uid-${++uidCounter}`;
  const review = {
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: {
      uid,
      kind: { group: "", version: "v1", kind: o.kind ?? "Pod" },
      resource: { group: "", version: "v1", resource: "pods" },
      requestKind: { group: "", version: "v1", kind: "Pod" },
      requestResource: { group: "", version: "v1", resource: "pods" },
      name: (pod.metadata as { name?: string } | undefined)?.name,
      namespace: o.namespace ?? "default",
      operation: o.operation ?? "CREATE",
      userInfo: {
        username: "system:serviceaccount:kube-system:replicaset-controller",
        groups: ["system:authenticated"],
      },
      object: pod,
      oldObject: null,
      dryRun: false,
      options: { kind: "CreateOptions", apiVersion: "meta.k8s.io/v1" },
    },
  };
  return { uid, body: JSON.stringify(review) };
}

interface Reviewed {
  readonly reply: HttpsReply;
  readonly response: {
    uid: string;
    allowed: boolean;
    patchType?: string;
    patch?: string;
    status?: { code: number; message: string };
  };
  readonly patch: PatchOp[] | undefined;
}

async function review(pod: Pod, o: { namespace?: string; operation?: string; kind?: string } = {}): Promise<Reviewed> {
  const { uid, body } = reviewBody(pod, o);
  const reply = await httpsCall({ port: server.port, path: MUTATE_PATH, ca: ca.pem, body });
  expect(reply.status).toBe(200);
  expect(reply.contentType).toBe("application/json");
  const parsed = JSON.parse(reply.body) as { apiVersion: string; kind: string; response: Reviewed["response"] };
  expect(parsed.apiVersion).toBe("admission.k8s.io/v1");
  expect(parsed.kind).toBe("AdmissionReview");
  expect(parsed.response.uid).toBe(uid);
  const response = parsed.response;
  if (response.patch !== undefined) expect(response.patchType).toBe("JSONPatch");
  const patch =
    response.patch === undefined
      ? undefined
      : (JSON.parse(Buffer.from(response.patch, "base64").toString("utf8")) as PatchOp[]);
  return { reply, response, patch };
}

/** Reviews the pod and returns the pod with the returned patch applied. */
async function admitted(pod: Pod, o: { namespace?: string } = {}): Promise<Pod> {
  const { response, patch } = await review(pod, o);
  expect(response.allowed).toBe(true);
  return patch === undefined ? pod : applyJsonPatch(pod, patch);
}

const peerPod = (spec: Record<string, unknown>, metadata: Record<string, unknown> = {}): Pod => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name: "web", namespace: "default", ...metadata },
  spec: { runtimeClassName: "kata-remote", restartPolicy: "Always", ...spec },
});

describe("peer pods", () => {
  it("moves CPU and memory of every container into the VM size and takes one peer-pod VM", async () => {
    const pod = peerPod(
      {
        initContainers: [
          {
            name: "init",
            image: "busybox",
            resources: { requests: { cpu: "2", memory: "64Mi" }, limits: { cpu: "2", memory: "64Mi" } },
          },
        ],
        containers: [
          {
            name: "app",
            image: "nginx",
            resources: {
              requests: { cpu: "500m", memory: "256Mi", "ephemeral-storage": "1Gi" },
              limits: { cpu: "1", memory: "512Mi" },
            },
          },
          { name: "log", image: "fluent-bit", resources: { requests: { cpu: "250m", memory: "100M" } } },
        ],
      },
      { labels: { app: "web" }, annotations: { "team.example.com/owner": "web" } },
    );
    expect(await admitted(pod)).toEqual({
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name: "web",
        namespace: "default",
        labels: { app: "web" },
        annotations: {
          "team.example.com/owner": "web",
          // cpu: app 1 + log 0.25 = 1.25 → 2 (init's 2 is no more); memory: 512Mi + 100M = 607.4 MiB → 608
          "io.katacontainers.config.hypervisor.default_vcpus": "2",
          "io.katacontainers.config.hypervisor.default_memory": "608",
        },
      },
      spec: {
        runtimeClassName: "kata-remote",
        restartPolicy: "Always",
        initContainers: [{ name: "init", image: "busybox" }],
        containers: [
          {
            name: "app",
            image: "nginx",
            resources: {
              requests: { "ephemeral-storage": "1Gi", "kata.peerpods.io/vm": "1" },
              limits: { "kata.peerpods.io/vm": "1" },
            },
          },
          { name: "log", image: "fluent-bit" },
        ],
      },
    });
  });

  it("gives a pod without resources the peer-pod VM only", async () => {
    const pod = peerPod({ containers: [{ name: "app", image: "busybox", command: ["sleep", "1d"] }] });
    const { patch } = await review(pod);
    expect(patch).toEqual([
      {
        op: "add",
        path: "/spec/containers/0/resources",
        value: { requests: { "kata.peerpods.io/vm": "1" }, limits: { "kata.peerpods.io/vm": "1" } },
      },
    ]);
    expect(await admitted(pod)).toEqual(
      peerPod({
        containers: [
          {
            name: "app",
            image: "busybox",
            command: ["sleep", "1d"],
            resources: { requests: { "kata.peerpods.io/vm": "1" }, limits: { "kata.peerpods.io/vm": "1" } },
          },
        ],
      }),
    );
  });

  it("keeps resources other than CPU and memory, and fields beside them", async () => {
    const pod = peerPod({
      containers: [
        { name: "a", image: "x", resources: { limits: { memory: "1Gi" }, claims: [{ name: "gpu" }] } },
        {
          name: "b",
          image: "x",
          resources: { requests: { cpu: "1", "nvidia.com/gpu": "1" }, limits: { "nvidia.com/gpu": "1" } },
        },
      ],
    });
    const out = (await admitted(pod)) as { spec: { containers: unknown[] }; metadata: { annotations: unknown } };
    expect(out.spec.containers).toEqual([
      {
        name: "a",
        image: "x",
        resources: {
          claims: [{ name: "gpu" }],
          requests: { "kata.peerpods.io/vm": "1" },
          limits: { "kata.peerpods.io/vm": "1" },
        },
      },
      { name: "b", image: "x", resources: { requests: { "nvidia.com/gpu": "1" }, limits: { "nvidia.com/gpu": "1" } } },
    ]);
    expect(out.metadata.annotations).toEqual({
      "io.katacontainers.config.hypervisor.default_vcpus": "1",
      "io.katacontainers.config.hypervisor.default_memory": "1024",
    });
  });

  it("passes an instance type from the peerpods.io/instance-type label, the annotation winning", async () => {
    const byLabel = (await admitted(
      peerPod({ containers: [{ name: "a", image: "x" }] }, { labels: { "peerpods.io/instance-type": "m6a.xlarge" } }),
    )) as {
      metadata: { annotations: Record<string, string> };
    };
    expect(byLabel.metadata.annotations).toEqual({ "io.katacontainers.config.hypervisor.machine_type": "m6a.xlarge" });

    const both = (await admitted(
      peerPod(
        { containers: [{ name: "a", image: "x" }] },
        {
          labels: { "peerpods.io/instance-type": "m6a.xlarge" },
          annotations: { "peerpods.io/instance-type": "Standard_DC4as_v5" },
        },
      ),
    )) as { metadata: { annotations: Record<string, string> } };
    expect(both.metadata.annotations).toEqual({
      "peerpods.io/instance-type": "Standard_DC4as_v5",
      "io.katacontainers.config.hypervisor.machine_type": "Standard_DC4as_v5",
    });
  });

  it("leaves Kata annotations the user set", async () => {
    const out = (await admitted(
      peerPod(
        { containers: [{ name: "a", image: "x", resources: { requests: { cpu: "3", memory: "3Gi" } } }] },
        {
          annotations: {
            "io.katacontainers.config.hypervisor.default_vcpus": "8",
            "io.katacontainers.config.hypervisor.machine_type": "c6a.2xlarge",
          },
          labels: { "peerpods.io/instance-type": "t3.small" },
        },
      ),
    )) as { metadata: { annotations: Record<string, string> } };
    expect(out.metadata.annotations).toEqual({
      "io.katacontainers.config.hypervisor.default_vcpus": "8",
      "io.katacontainers.config.hypervisor.machine_type": "c6a.2xlarge",
      "io.katacontainers.config.hypervisor.default_memory": "3072",
    });
  });

  it("sizes sidecar init containers beside the app", async () => {
    const out = (await admitted(
      peerPod({
        initContainers: [
          {
            name: "mesh",
            image: "proxy",
            restartPolicy: "Always",
            resources: { requests: { cpu: "500m", memory: "128Mi" } },
          },
        ],
        containers: [{ name: "a", image: "x", resources: { requests: { cpu: "1", memory: "1Gi" } } }],
      }),
    )) as { metadata: { annotations: Record<string, string> }; spec: { initContainers: unknown[] } };
    expect(out.metadata.annotations).toEqual({
      "io.katacontainers.config.hypervisor.default_vcpus": "2",
      "io.katacontainers.config.hypervisor.default_memory": "1152",
    });
    expect(out.spec.initContainers).toEqual([{ name: "mesh", image: "proxy", restartPolicy: "Always" }]);
  });

  it("answers an already mutated pod with no patch (reinvocation)", async () => {
    const first = await admitted(
      peerPod({ containers: [{ name: "a", image: "x", resources: { requests: { cpu: "1" } } }] }),
    );
    const again = await review(first);
    expect(again.response.allowed).toBe(true);
    expect(again.patch).toBeUndefined();
  });
});

describe("other pods are allowed unchanged", () => {
  const resources = { requests: { cpu: "1", memory: "1Gi" }, limits: { cpu: "2", memory: "2Gi" } };

  it.each([
    ["no runtime class", { containers: [{ name: "a", image: "x", resources }] }],
    ["another runtime class", { runtimeClassName: "kata-qemu", containers: [{ name: "a", image: "x", resources }] }],
  ])("%s", async (_, spec) => {
    const { response, patch } = await review({ apiVersion: "v1", kind: "Pod", metadata: { name: "p" }, spec });
    expect(response).toEqual({ uid: response.uid, allowed: true });
    expect(patch).toBeUndefined();
  });

  it.each(["kube-system", "kube-public", "kube-node-lease", OWN_NAMESPACE])("in namespace %s", async (namespace) => {
    const { response } = await review(peerPod({ containers: [{ name: "a", image: "x", resources }] }), { namespace });
    expect(response).toEqual({ uid: response.uid, allowed: true });
  });

  it("on update, and for other kinds", async () => {
    for (const o of [{ operation: "UPDATE" }, { kind: "Deployment" }]) {
      const { response } = await review(peerPod({ containers: [{ name: "a", image: "x", resources }] }), o);
      expect(response).toEqual({ uid: response.uid, allowed: true });
    }
  });
});

describe("malformed input", () => {
  async function post(
    body: string,
    contentType = "application/json",
    method = "POST",
    pathName = MUTATE_PATH,
  ): Promise<{ status: number; error: string }> {
    const reply = await httpsCall({ port: server.port, path: pathName, ca: ca.pem, body, contentType, method });
    expect(reply.contentType).toBe("application/json");
    return { status: reply.status, error: (JSON.parse(reply.body) as { error: string }).error };
  }

  it("answers HTTP 400 with the reason when the body is no AdmissionReview v1", async () => {
    expect(await post("{not json")).toEqual({ status: 400, error: expect.stringMatching(/^the body is not JSON: /) });
    expect(await post("[]")).toEqual({ status: 400, error: "the body must be a JSON object (an AdmissionReview)" });
    expect(
      await post(
        JSON.stringify({ apiVersion: "admission.k8s.io/v1beta1", kind: "AdmissionReview", request: { uid: "u" } }),
      ),
    ).toEqual({
      status: 400,
      error:
        'apiVersion must be admission.k8s.io/v1, not "admission.k8s.io/v1beta1" (list only v1 in admissionReviewVersions)',
    });
    expect(await post(JSON.stringify({ apiVersion: "admission.k8s.io/v1", kind: "Pod" }))).toEqual({
      status: 400,
      error: 'kind must be AdmissionReview, not "Pod"',
    });
    expect(await post(JSON.stringify({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview" }))).toEqual({
      status: 400,
      error: "request is missing",
    });
    expect(
      await post(
        JSON.stringify({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", request: { object: {} } }),
      ),
    ).toEqual({ status: 400, error: "request.uid is missing" });
  });

  it("refuses other content types, methods and paths", async () => {
    expect(await post("{}", "text/plain")).toEqual({
      status: 415,
      error: 'content-type must be application/json, not "text/plain"',
    });
    expect((await post("", "application/json", "GET")).status).toBe(405);
    expect((await post("{}", "application/json", "POST", "/mutate")).status).toBe(404);
  });

  it("refuses a body over the limit without reading it all", async () => {
    const huge = Buffer.alloc(9 * 1024 * 1024, 0x20);
    const reply = await httpsCall({ port: server.port, path: MUTATE_PATH, ca: ca.pem, body: huge });
    expect(reply.status).toBe(413);
    const chunked = await httpsCall({ port: server.port, path: MUTATE_PATH, ca: ca.pem, body: huge, chunked: true });
    expect(chunked.status).toBe(413);
    expect(JSON.parse(chunked.body)).toEqual({ error: `body exceeds the ${8 * 1024 * 1024}-byte limit` });
  });

  it("denies a peer pod it cannot read, saying why", async () => {
    const cases: Array<[Pod, string]> = [
      [peerPod({ containers: "app" }), "spec.containers must be a list"],
      [peerPod({ containers: [] }), "spec.containers is empty"],
      [
        peerPod({ containers: [{ name: "a", resources: { requests: { cpu: "lots" } } }] }),
        'containers[0] (a) resources.requests.cpu: "lots" is not a Kubernetes quantity (such as 500m, 2, 128Mi or 1G)',
      ],
      [
        peerPod({ containers: [{ name: "a", resources: { limits: { memory: { big: true } } } }] }),
        'spec.containers[0].resources.limits["memory"] must be a string',
      ],
      [{ ...peerPod({ containers: [{ name: "a" }] }), metadata: "x" }, "metadata must be an object"],
    ];
    for (const [pod, reason] of cases) {
      const { response, patch } = await review(pod);
      expect(patch).toBeUndefined();
      expect(response).toEqual({
        uid: response.uid,
        allowed: false,
        status: { code: 400, message: `peer-pods webhook cannot prepare this kata-remote pod: ${reason}` },
      });
    }
  });

  it("still serves after all of that", async () => {
    const { response } = await review(peerPod({ containers: [{ name: "a", image: "x" }] }));
    expect(response.allowed).toBe(true);
    const health = await httpsCall({ port: server.port, path: "/healthz", ca: ca.pem, method: "GET" });
    expect(health.status).toBe(200);
  });
});

describe("certificate rotation", () => {
  async function servedSerial(trust: string): Promise<string> {
    const reply = await httpsCall({ port: server.port, path: "/healthz", ca: trust, method: "GET" });
    return reply.peerCertificate.serialNumber;
  }

  async function eventually<T>(probe: () => Promise<T>, ok: (value: T) => boolean, timeoutMs = 5000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const value = await probe();
        if (ok(value)) return value;
      } catch (err) {
        if (Date.now() > deadline) throw err;
      }
      if (Date.now() > deadline) throw new Error("condition not reached in time");
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  it("serves a certificate renewed on disk without a restart, and keeps the old one while the new pair is broken", async () => {
    const before = await servedSerial(ca.pem);
    const renewedCa = await TestCa.create("renewed CA");
    const renewed = await renewedCa.issueServer({ commonName: "peerpods-webhook" });
    const unrelated = await renewedCa.issueServer({ commonName: "other" });

    // A certificate whose key does not match: the old pair keeps serving.
    await writeAtomically(path.join(dir, "tls.crt"), renewed.cert);
    await writeAtomically(path.join(dir, "tls.key"), unrelated.key);
    await new Promise((r) => setTimeout(r, 300));
    expect(await servedSerial(ca.pem)).toBe(before);

    await writeAtomically(path.join(dir, "tls.key"), renewed.key);
    const after = await eventually(
      () => servedSerial(renewedCa.pem),
      (serial) => serial !== before,
    );
    expect(after.toLowerCase()).toBe(new X509Certificate(renewed.cert).serialNumber.toLowerCase());
    await expect(servedSerial(ca.pem)).rejects.toThrow(/self-signed|unable to verify|certificate/);
    // Admission goes on over the renewed certificate.
    const { body } = reviewBody(peerPod({ containers: [{ name: "a", image: "x" }] }));
    expect((await httpsCall({ port: server.port, path: MUTATE_PATH, ca: renewedCa.pem, body })).status).toBe(200);
  });
});

describe("the peerpods-webhook binary", () => {
  async function freePort(): Promise<number> {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((r) => probe.close(() => r()));
    return port;
  }

  function run(env: Record<string, string>, args: string[] = []) {
    const child = spawn(process.execPath, [path.join(ROOT, "bin/peerpods-webhook.js"), ...args], {
      env: { PATH: process.env.PATH ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    return { child, exited, stderr: () => stderr };
  }

  /** TLS_CERT_FILE and TLS_KEY_FILE naming a fresh copy of the test's serving pair. */
  async function servingFiles(): Promise<Record<string, string>> {
    const certDir = await mkdtemp(path.join(dir, "bin-"));
    await writeFile(path.join(certDir, "tls.crt"), tls.cert);
    await writeFile(path.join(certDir, "tls.key"), tls.key);
    return { TLS_CERT_FILE: path.join(certDir, "tls.crt"), TLS_KEY_FILE: path.join(certDir, "tls.key") };
  }

  async function waitForLog(p: ReturnType<typeof run>, text: string): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (!p.stderr().includes(text)) {
      if (Date.now() > deadline || p.child.exitCode !== null)
        throw new Error(`webhook did not log ${text}: ${p.stderr()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  // The TLS version a handshake with at most `maxVersion` settles on; rejects when refused.
  function tlsVersionSpoken(port: number, maxVersion: "TLSv1.2" | "TLSv1.3"): Promise<string | null> {
    return new Promise((resolve, reject) => {
      const socket = connectTls({ host: "127.0.0.1", port, servername: "localhost", ca: ca.pem, maxVersion }, () => {
        resolve(socket.getProtocol());
        socket.end();
      });
      socket.once("error", reject);
    });
  }

  it("exits 2 naming each bad setting", async () => {
    const p = run({ WEBHOOK_PORT: "99999", TLS_RELOAD_INTERVAL: "soon" });
    expect(await p.exited).toBe(2);
    expect(p.stderr()).toContain("WEBHOOK_PORT");
    expect(p.stderr()).toContain("TLS_RELOAD_INTERVAL");
  });

  it("exits 2 when upstream's and our runtime class variables name different classes", async () => {
    const p = run({ TARGET_RUNTIME_CLASS: "kata-remote", TARGET_RUNTIMECLASS: "kata-peer" });
    expect(await p.exited).toBe(2);
    expect(p.stderr()).toMatch(/TARGET_RUNTIMECLASS="kata-peer": expected the same RuntimeClass/);
  });

  it("exits 2 naming upstream's POD_VM_EXTENDED_RESOURCE when it names a resource the daemon does not advertise", async () => {
    const p = run({ POD_VM_EXTENDED_RESOURCE: "example.com/vm" });
    expect(await p.exited).toBe(2);
    expect(p.stderr()).toMatch(/POD_VM_EXTENDED_RESOURCE="example.com\/vm": expected kata\.peerpods\.io\/vm or unset/);
  });

  it("exits 2 naming TLS_CIPHER_SUITES when a suite is unknown", async () => {
    const p = run({ TLS_CIPHER_SUITES: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_NOT_A_SUITE" });
    expect(await p.exited).toBe(2);
    expect(p.stderr()).toMatch(/TLS_CIPHER_SUITES=.*unknown: TLS_NOT_A_SUITE/);
  });

  it("serves the cluster's TLS profile (TLS_MIN_VERSION) and warns about upstream's POD_VM_INSTANCE_TYPE", async () => {
    const port = await freePort();
    const p = run({
      ...(await servingFiles()),
      WEBHOOK_PORT: String(port),
      TLS_MIN_VERSION: "VersionTLS13",
      POD_VM_EXTENDED_RESOURCE: "kata.peerpods.io/vm",
      POD_VM_INSTANCE_TYPE: "m5.large",
    });
    try {
      await waitForLog(p, "serving admission reviews");
      expect(p.stderr()).toMatch(/POD_VM_INSTANCE_TYPE=\\"m5.large\\" is not used/);
      // A client that stops at TLS 1.2 is refused; one that speaks TLS 1.3 is served.
      await expect(tlsVersionSpoken(port, "TLSv1.2")).rejects.toThrow(/version|handshake|protocol/i);
      expect(await tlsVersionSpoken(port, "TLSv1.3")).toBe("TLSv1.3");
      p.child.kill("SIGTERM");
      expect(await p.exited).toBe(0);
    } finally {
      if (p.child.exitCode === null) p.child.kill("SIGKILL");
    }
  });

  it("exits 1 when the certificate files are missing", async () => {
    const p = run({
      WEBHOOK_PORT: String(await freePort()),
      TLS_CERT_FILE: path.join(dir, "nope.crt"),
      TLS_KEY_FILE: path.join(dir, "nope.key"),
      LOG_LEVEL: "silent",
    });
    expect(await p.exited).toBe(1);
    expect(p.stderr()).toContain("cannot read TLS files");
  });

  it("serves reviews from its settings and stops on SIGTERM", async () => {
    const port = await freePort();
    const p = run({
      ...(await servingFiles()),
      WEBHOOK_PORT: String(port),
      // Upstream's name for it, as a peer-pods-cm would carry it.
      RUNTIMECLASS_NAME: "peer",
      POD_NAMESPACE: "peer-ns",
    });
    try {
      await waitForLog(p, "serving admission reviews");
      const call = async (pod: Pod, namespace: string) => {
        const { body } = reviewBody(pod, { namespace });
        const reply = await httpsCall({ port, path: MUTATE_PATH, ca: ca.pem, body });
        return (JSON.parse(reply.body) as { response: { patch?: string } }).response;
      };
      const pod = { metadata: { name: "p" }, spec: { runtimeClassName: "peer", containers: [{ name: "a" }] } };
      expect((await call(pod, "default")).patch).toBeDefined();
      expect((await call(pod, "peer-ns")).patch).toBeUndefined(); // its own namespace
      expect((await call(pod, "kube-system")).patch).toBeUndefined();
      p.child.kill("SIGTERM");
      expect(await p.exited).toBe(0);
    } finally {
      if (p.child.exitCode === null) p.child.kill("SIGKILL");
    }
  });
});
