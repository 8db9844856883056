// A pod's registry credentials reach its peer VM: the daemon reads the pod's pull secrets and its
// service account's through a Kubernetes API (KUBECONFIG), merges them, and the VM finds them at
// /run/peerpod/auth.json, root-only. No secret byte ever reaches the daemon's log.
import fs from "node:fs/promises";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { Hypervisor } from "../src/gen/hypervisor_pb.js";
import { onHypervisor } from "../src/hypervisor/shim-driver.ts";
import { ANNOTATIONS } from "../src/kata/annotations.ts";
import { useDaemonHooks } from "./support/daemon-hooks.ts";
import { type DaemonDirs, makeDaemonDirs, type RunningDaemon, startDaemon } from "./support/daemon-process.ts";
import { FakeKubeApi } from "./support/fake-kube-api.ts";

const h = Hypervisor.method;
const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
const PASSWORD = "pull-password-3f9c1e";
const SA_PASSWORD = "account-password-77ab";

let api: FakeKubeApi;
let dirs: DaemonDirs | undefined;
let daemon: RunningDaemon | undefined;

beforeAll(async () => {
  api = await FakeKubeApi.start();
  api.addNode("test-node");
  const dockerconfig = (auths: Record<string, unknown>) => ({ ".dockerconfigjson": b64(JSON.stringify({ auths })) });
  api.put("secrets", "shop", {
    metadata: { name: "regcred" },
    type: "kubernetes.io/dockerconfigjson",
    data: dockerconfig({ "registry.shop.example": { username: "ci", password: PASSWORD } }),
  });
  api.put("secrets", "shop", {
    metadata: { name: "sa-cred" },
    type: "kubernetes.io/dockerconfigjson",
    data: dockerconfig({
      "registry.shop.example": { username: "sa", password: SA_PASSWORD },
      "mirror.shop.example": { username: "sa", password: SA_PASSWORD },
    }),
  });
  api.put("serviceaccounts", "shop", { metadata: { name: "cart" }, imagePullSecrets: [{ name: "sa-cred" }] });
  api.put("pods", "shop", {
    metadata: { name: "cart-7d9f" },
    spec: { serviceAccountName: "cart", imagePullSecrets: [{ name: "regcred" }, { name: "gone" }] },
  });
});

useDaemonHooks({
  dirs: () => dirs,
  daemon: () => daemon,
  afterFile: async () => {
    await api?.close();
  },
});

/** Runs CreateVM and StartVM for a pod of namespace shop, returns the auth file the VM got (or
 * undefined) with its mode, then stops the pod. */
async function podAuthFile(d: DaemonDirs, id: string): Promise<{ content: string; mode: number } | undefined> {
  const annotations = { [ANNOTATIONS.podName]: "cart-7d9f", [ANNOTATIONS.podNamespace]: "shop" };
  await onHypervisor(d.socketPath, (c) => c.call(h.createVM, { id, annotations, networkNamespacePath: "" }));
  await onHypervisor(d.socketPath, (c) => c.call(h.startVM, { id }, { timeoutMs: 60_000 }));
  try {
    for (const vm of await fs.readdir(d.vmsDir)) {
      const file = path.join(d.vmsDir, vm, "root", "run", "peerpod", "auth.json");
      const stat = await fs.stat(file).catch(() => undefined);
      if (stat !== undefined) return { content: await fs.readFile(file, "utf8"), mode: stat.mode & 0o777 };
    }
    return undefined;
  } finally {
    await onHypervisor(d.socketPath, (c) => c.call(h.stopVM, { id }));
  }
}

describe("registry credentials for a peer pod", () => {
  it("delivers the pod's pull secrets, then its service account's, as a root-only auth.json in the VM", async () => {
    dirs = await makeDaemonDirs("caa-regauth-");
    const kubeconfig = path.join(dirs.root, "kubeconfig");
    await fs.writeFile(kubeconfig, api.kubeconfig(), { mode: 0o600 });
    daemon = await startDaemon(dirs, { KUBECONFIG: kubeconfig });
    const file = await podAuthFile(dirs, "regauth");
    expect(file?.mode).toBe(0o600);
    expect(JSON.parse(file?.content ?? "null")).toEqual({
      auths: {
        "registry.shop.example": { auth: b64(`ci:${PASSWORD}`) },
        "mirror.shop.example": { auth: b64(`sa:${SA_PASSWORD}`) },
      },
    });
    await daemon.stop();
    const logs = daemon.logs();
    expect(logs).toContain("pull secret shop/gone of pod cart-7d9f is not usable");
    for (const secret of [PASSWORD, SA_PASSWORD, b64(`ci:${PASSWORD}`), b64(`sa:${SA_PASSWORD}`)])
      expect(logs).not.toContain(secret);
  });

  it("gives every pod REGISTRY_AUTH_FILE where set, and nothing with REGISTRY_AUTH=off", async () => {
    dirs = await makeDaemonDirs("caa-regauth-");
    const fixed = path.join(dirs.root, "auth.json");
    const content = JSON.stringify({ auths: { "quay.example": { auth: b64(`robot:${PASSWORD}`) } } });
    await fs.writeFile(fixed, content, { mode: 0o600 });
    daemon = await startDaemon(dirs, { REGISTRY_AUTH_FILE: fixed });
    expect(JSON.parse((await podAuthFile(dirs, "fixed"))?.content ?? "null")).toEqual(JSON.parse(content));
    await daemon.stop();
    expect(daemon.logs()).not.toContain(PASSWORD);

    daemon = await startDaemon(dirs, { REGISTRY_AUTH_FILE: fixed, REGISTRY_AUTH: "off" });
    expect(await podAuthFile(dirs, "off")).toBeUndefined();
  });

  it("refuses a REGISTRY_AUTH_FILE it cannot use at start-up, naming it", async () => {
    dirs = await makeDaemonDirs("caa-regauth-");
    const broken = path.join(dirs.root, "broken.json");
    await fs.writeFile(broken, "{ not json", { mode: 0o600 });
    await expect(startDaemon(dirs, { REGISTRY_AUTH_FILE: broken })).rejects.toThrow(
      `REGISTRY_AUTH_FILE=${broken}: is not JSON`,
    );
  });
});
