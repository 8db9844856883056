// The pull-secret reader driven by the real @kubernetes/client-node against a local endpoint
// that answers like the API server (test/support/fake-kube-api.ts).
import { Writable } from "node:stream";
import { KubeConfig } from "@kubernetes/client-node";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeKubeApi } from "../../test/support/fake-kube-api.ts";
import { ANNOTATIONS } from "../kata/annotations.ts";
import { PullSecretReader } from "./pull-secrets.ts";
import { makeRegistryAuth } from "./registry-auth.ts";

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
const auth = (user: string, pass: string) => b64(`${user}:${pass}`);
const SECRET_WORD = "s3cr3t-never-logged";

function jsonSecret(name: string, auths: Record<string, unknown>) {
  return {
    metadata: { name },
    type: "kubernetes.io/dockerconfigjson",
    data: { ".dockerconfigjson": b64(JSON.stringify({ auths })) },
  };
}

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(
        ...chunk
          .toString("utf8")
          .split("\n")
          .filter((l) => l !== ""),
      );
      done();
    },
  });
  return { logger: pino({ level: "debug" }, stream), lines, text: () => lines.join("\n") };
}

let api: FakeKubeApi;
let kubeConfig: KubeConfig;

beforeAll(async () => {
  api = await FakeKubeApi.start();
  kubeConfig = new KubeConfig();
  kubeConfig.loadFromString(api.kubeconfig());
  api.put("secrets", "team", jsonSecret("pod-secret", { "r.example": { auth: auth("pod", SECRET_WORD) } }));
  api.put("secrets", "team", {
    metadata: { name: "legacy" },
    type: "kubernetes.io/dockercfg",
    data: { ".dockercfg": b64(JSON.stringify({ "old.example": { username: "old", password: SECRET_WORD } })) },
  });
  api.put(
    "secrets",
    "team",
    jsonSecret("sa-secret", {
      "r.example": { auth: auth("account", SECRET_WORD) },
      "sa.example": { auth: auth("sa", SECRET_WORD) },
    }),
  );
  api.put("secrets", "team", {
    metadata: { name: "broken" },
    type: "kubernetes.io/dockerconfigjson",
    data: { ".dockerconfigjson": b64(`{ ${SECRET_WORD}`) },
  });
  api.put("serviceaccounts", "team", {
    metadata: { name: "builder" },
    imagePullSecrets: [{ name: "sa-secret" }, { name: "pod-secret" }],
  });
  api.put("serviceaccounts", "team", { metadata: { name: "default" } });
  api.put("pods", "team", {
    metadata: { name: "web" },
    spec: { serviceAccountName: "builder", imagePullSecrets: [{ name: "pod-secret" }, { name: "legacy" }] },
  });
  api.put("pods", "team", { metadata: { name: "plain" }, spec: {} });
  api.put("pods", "team", {
    metadata: { name: "dangling" },
    spec: { imagePullSecrets: [{ name: "missing" }, { name: "broken" }, { name: "legacy" }] },
  });
});

afterAll(async () => {
  await api?.close();
});

const signal = () => AbortSignal.timeout(10_000);

describe("pull secrets from the Kubernetes API", () => {
  it("merges the pod's secrets, then its service account's, pod first; both secret types", async () => {
    const log = capture();
    const reader = new PullSecretReader({ kubeConfig, logger: log.logger });
    const file = await reader.authFileFor({ namespace: "team", name: "web" }, signal());
    expect(file).toEqual({
      auths: {
        "r.example": { auth: auth("pod", SECRET_WORD) },
        "old.example": { auth: auth("old", SECRET_WORD) },
        "sa.example": { auth: auth("sa", SECRET_WORD) },
      },
    });
    // pod-secret is named by pod and account alike: read once.
    const reads = api.requests.filter((r) => r.path === "/api/v1/namespaces/team/secrets/pod-secret");
    expect(reads).toHaveLength(1);
    expect(log.lines.filter((l) => l.includes('"level":40'))).toEqual([]);
  });

  it("gives nothing for a pod without secrets (the default service account has none)", async () => {
    const reader = new PullSecretReader({ kubeConfig, logger: capture().logger });
    expect(await reader.authFileFor({ namespace: "team", name: "plain" }, signal())).toBeUndefined();
  });

  it("warns naming pod, namespace and secret for a missing or malformed secret, and keeps the good ones", async () => {
    const log = capture();
    const reader = new PullSecretReader({ kubeConfig, logger: log.logger });
    const file = await reader.authFileFor({ namespace: "team", name: "dangling" }, signal());
    expect(file).toEqual({ auths: { "old.example": { auth: auth("old", SECRET_WORD) } } });
    const text = log.text();
    expect(text).toContain("pull secret team/missing of pod dangling is not usable");
    expect(text).toContain('secrets \\"missing\\" not found');
    expect(text).toContain("pull secret team/broken of pod dangling is not usable");
    expect(text).toContain("is not base64-encoded JSON");
    expect(text).not.toContain(SECRET_WORD);
    expect(text).not.toContain(b64(SECRET_WORD));
  });

  it("names the RBAC it needs when the API forbids reading secrets", async () => {
    const log = capture();
    const denied = await FakeKubeApi.start();
    try {
      denied.put("pods", "team", { metadata: { name: "web" }, spec: { imagePullSecrets: [{ name: "pod-secret" }] } });
      denied.put("secrets", "team", jsonSecret("pod-secret", { "r.example": { auth: auth("pod", SECRET_WORD) } }));
      denied.forbid("/api/v1/namespaces/team/secrets/");
      const config = new KubeConfig();
      config.loadFromString(denied.kubeconfig());
      const reader = new PullSecretReader({ kubeConfig: config, logger: log.logger });
      expect(await reader.authFileFor({ namespace: "team", name: "web" }, signal())).toBeUndefined();
      expect(log.text()).toContain("HTTP 403");
      expect(log.text()).toContain("needs get on pods, serviceaccounts and secrets");
    } finally {
      await denied.close();
    }
  });

  it("leaves credentials out with one warning while the API is unreachable", async () => {
    const log = capture();
    const gone = await FakeKubeApi.start();
    const config = new KubeConfig();
    config.loadFromString(gone.kubeconfig());
    await gone.close();
    const reader = new PullSecretReader({ kubeConfig: config, logger: log.logger, requestTimeoutMs: 2000 });
    expect(await reader.authFileFor({ namespace: "team", name: "web" }, signal())).toBeUndefined();
    expect(await reader.authFileFor({ namespace: "team", name: "web" }, signal())).toBeUndefined();
    const warnings = log.lines.filter((l) => l.includes("Kubernetes API unreachable"));
    expect(warnings).toHaveLength(1);
  });

  it("chooses the source from the settings: off, a fixed file, or the pod's secrets by its CRI annotations", async () => {
    const logger = capture().logger;
    const off = await makeRegistryAuth({ enabled: false, authFile: "/nonexistent", kubeConfig, logger });
    expect(
      await off.forPod({ [ANNOTATIONS.podName]: "web", [ANNOTATIONS.podNamespace]: "team" }, signal()),
    ).toBeUndefined();

    const kube = await makeRegistryAuth({ enabled: true, authFile: undefined, kubeConfig, logger });
    expect(await kube.forPod({}, signal())).toBeUndefined();
    const file = await kube.forPod({ [ANNOTATIONS.podName]: "web", [ANNOTATIONS.podNamespace]: "team" }, signal());
    expect(Object.keys(file?.auths ?? {}).sort()).toEqual(["old.example", "r.example", "sa.example"]);

    await expect(
      makeRegistryAuth({ enabled: true, authFile: "/nonexistent/auth.json", kubeConfig, logger }),
    ).rejects.toThrow("REGISTRY_AUTH_FILE=/nonexistent/auth.json: cannot read it: ENOENT");
    const none = await makeRegistryAuth({ enabled: true, authFile: undefined, kubeConfig: undefined, logger });
    expect(none.source).toContain("no Kubernetes API");
  });
});
