// Two clusters in one cloud account, each with a node of the same name and the shipped
// CLUSTER_NAME (default): neither daemon may take the other's VMs for its own orphans. The
// local provider's VM folder plays the shared account.
import fs from "node:fs/promises";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Hypervisor } from "../src/gen/hypervisor_pb.js";
import { onHypervisor } from "../src/hypervisor/shim-driver.ts";
import {
  cleanupDaemonDirs,
  type DaemonDirs,
  debugSandboxes,
  makeDaemonDirs,
  type RunningDaemon,
  startDaemon,
} from "./support/daemon-process.ts";
import { FakeKubeApi } from "./support/fake-kube-api.ts";

const h = Hypervisor.method;
const daemons: RunningDaemon[] = [];
const allDirs: DaemonDirs[] = [];

afterEach(async () => {
  for (const d of daemons.splice(0)) if (d.child.exitCode === null) await d.stop();
  for (const d of allDirs.splice(0)) expect(await cleanupDaemonDirs(d)).toEqual([]);
});

describe("daemons of two clusters sharing a cloud account", () => {
  it("never delete each other's VMs, though node name and CLUSTER_NAME are the same", async () => {
    const a = await makeDaemonDirs();
    const b = { ...(await makeDaemonDirs()), vmsDir: a.vmsDir };
    allDirs.push(b, a);
    const env = { NODE_NAME: "worker-0", CLUSTER_NAME: "default", RECONCILE_INTERVAL: "1s" };
    const first = await startDaemon(a, env);
    daemons.push(first);
    await onHypervisor(a.socketPath, (c) =>
      c.call(h.createVM, { id: "pod-a", annotations: {}, networkNamespacePath: "" }),
    );
    await onHypervisor(a.socketPath, (c) => c.call(h.startVM, { id: "pod-a" }, { timeoutMs: 60_000 }));
    const vms = await fs.readdir(a.vmsDir);
    expect(vms).toHaveLength(1);

    // The other cluster's daemon starts (reconciling at start-up), then sweeps a few times.
    const second = await startDaemon(b, env);
    daemons.push(second);
    await new Promise((r) => setTimeout(r, 3000));
    expect(second.logs()).not.toContain("deleted peer VM that no sandbox claims");
    expect(await fs.readdir(a.vmsDir)).toEqual(vms);
    expect(await debugSandboxes(first.probePort)).toMatchObject([{ id: "pod-a", state: "running" }]);

    await onHypervisor(a.socketPath, (c) => c.call(h.stopVM, { id: "pod-a" }));
    expect(await fs.readdir(a.vmsDir).catch(() => [])).toEqual([]);
    // Each daemon marks its VMs with its own cluster identity, kept across restarts.
    const ids = await Promise.all([a, b].map((d) => fs.readFile(path.join(d.stateDir, "cluster-id"), "utf8")));
    expect(ids[0]).not.toBe(ids[1]);
  }, 120_000);

  it("in a cluster, marks VMs with CLUSTER_NAME and the kube-system namespace's UID", async () => {
    const api = await FakeKubeApi.start();
    try {
      api.addNode("worker-0");
      const d = await makeDaemonDirs();
      allDirs.push(d);
      const kubeconfig = path.join(d.root, "kubeconfig");
      await fs.writeFile(kubeconfig, api.kubeconfig());
      const daemon = await startDaemon(d, { KUBECONFIG: kubeconfig, NODE_NAME: "worker-0", CLUSTER_NAME: "prod" });
      daemons.push(daemon);
      expect(daemon.logs()).toContain(`"cluster":"prod/${api.kubeSystemUid}","from":"kube-system namespace"`);
      expect((await fs.readFile(path.join(d.stateDir, "cluster-id"), "utf8")).trim()).toBe(api.kubeSystemUid);
    } finally {
      await api.close();
    }
  }, 60_000);
});
