// The daemon advertises its node's peer-pod capacity through the Kubernetes API it finds
// (KUBECONFIG here), and runs on without one.
import fs from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanupDaemonDirs, type DaemonDirs, makeDaemonDirs, startDaemon } from "./support/daemon-process.ts";
import { FakeKubeApi } from "./support/fake-kube-api.ts";

let dirs: DaemonDirs;
let api: FakeKubeApi;

beforeAll(async () => {
  dirs = await makeDaemonDirs("caa-kube-");
  api = await FakeKubeApi.start();
  api.addNode("test-node");
});

afterAll(async () => {
  await api?.close();
  if (dirs) expect(await cleanupDaemonDirs(dirs)).toEqual([]);
});

describe("node capacity", () => {
  it("sets kata.peerpods.io/vm to PEERPODS_LIMIT_PER_NODE on the daemon's node", async () => {
    const kubeconfig = path.join(dirs.root, "kubeconfig");
    await fs.writeFile(kubeconfig, api.kubeconfig(), { mode: 0o600 });
    const daemon = await startDaemon(dirs, { KUBECONFIG: kubeconfig, PEERPODS_LIMIT_PER_NODE: "7" });
    for (let i = 0; i < 200 && api.node("test-node")?.status.capacity?.["kata.peerpods.io/vm"] === undefined; i++)
      await new Promise((r) => setTimeout(r, 25));
    expect(api.node("test-node")?.status.capacity?.["kata.peerpods.io/vm"]).toBe("7");
    expect(await daemon.stop()).toBe(0);
  });

  it("advertises nothing with PEERPODS_LIMIT_PER_NODE=0 (upstream: unlimited), saying so", async () => {
    api.addNode("unlimited-node");
    const kubeconfig = path.join(dirs.root, "kubeconfig");
    await fs.writeFile(kubeconfig, api.kubeconfig(), { mode: 0o600 });
    const daemon = await startDaemon(dirs, {
      KUBECONFIG: kubeconfig,
      PEERPODS_LIMIT_PER_NODE: "0",
      NODE_NAME: "unlimited-node",
    });
    for (
      let i = 0;
      i < 200 && !daemon.logs().includes("PEERPODS_LIMIT_PER_NODE=0: no limit; node capacity not advertised");
      i++
    )
      await new Promise((r) => setTimeout(r, 25));
    expect(daemon.logs()).toContain("PEERPODS_LIMIT_PER_NODE=0: no limit; node capacity not advertised");
    expect(daemon.logs()).not.toContain("advertising node capacity");
    expect(api.node("unlimited-node")?.status.capacity?.["kata.peerpods.io/vm"]).toBeUndefined();
    expect(await daemon.stop()).toBe(0);
  });

  it("runs without a Kubernetes API, saying so", async () => {
    const daemon = await startDaemon(dirs, {});
    expect(daemon.logs()).toContain("node capacity not advertised");
    expect(await daemon.stop()).toBe(0);
  });
});
