// The daemon on the azure provider, against the local ARM endpoint over HTTPS (trusted through
// NODE_EXTRA_CA_CERTS, as an operator would trust a private CA), whose VMs are local VMs: a
// pod's whole life, and SIGKILLs between NIC and VM creation and after the VM PUT. Nothing may
// be left: no VM, NIC or disk.
import fs from "node:fs/promises";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { Hypervisor } from "../src/gen/hypervisor_pb.js";
import { onHypervisor, runPod } from "../src/hypervisor/shim-driver.ts";
import { Code } from "../src/ttrpc/index.ts";
import { useCloudDaemonHooks } from "./support/daemon-hooks.ts";
import {
  clusterMark,
  type DaemonDirs,
  debugSandboxes,
  makeDaemonDirs,
  type RunningDaemon,
  startDaemon,
} from "./support/daemon-process.ts";
import { FakeArm } from "./support/fake-arm.ts";
import { localVmLauncher } from "./support/fake-arm-local-launcher.ts";
import { metricValue, pollUntil, readyPoolVms } from "./support/warm-pool-probe.ts";

const h = Hypervisor.method;
let dirs: DaemonDirs;
let fake: FakeArm;
let daemon: RunningDaemon | undefined;
let caFile: string;

beforeAll(async () => {
  dirs = await makeDaemonDirs("caa-azure-");
  fake = await FakeArm.start({
    launcher: localVmLauncher(path.join(dirs.root, "azure-vms"), path.join(dirs.root, "azure-state")),
    retryAfterSeconds: 1,
  });
  caFile = path.join(dirs.root, "arm-ca.pem");
  await fs.writeFile(caFile, fake.caPem);
});

useCloudDaemonHooks({ dirs: () => dirs, fake: () => fake, daemon: () => daemon });

const env = (extra: Record<string, string> = {}) => ({
  ...fake.env(),
  CLOUD_PROVIDER: "azure",
  NODE_EXTRA_CA_CERTS: caFile,
  ...extra,
});
const create = (id: string) =>
  onHypervisor(dirs.socketPath, (c) => c.call(h.createVM, { id, annotations: {}, networkNamespacePath: "" }));
const start = (id: string) => onHypervisor(dirs.socketPath, (c) => c.call(h.startVM, { id }, { timeoutMs: 90_000 }));
// A StartVM the daemon dies in: the relay holds it while no daemon is there, until its deadline.
const startDying = (id: string) =>
  onHypervisor(dirs.socketPath, (c) => c.call(h.startVM, { id }, { timeoutMs: 15_000 })).catch((e: unknown) => e);
const stop = (id: string) => onHypervisor(dirs.socketPath, (c) => c.call(h.stopVM, { id }));
const leftovers = () => ({ vms: fake.model.vms.size, nics: fake.model.nics.size, disks: fake.model.disks.size });
const none = { vms: 0, nics: 0, disks: 0 };

async function waitUntil(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("cloud-api-adaptor on the azure provider", () => {
  it("runs a pod's whole life on an Azure VM and deletes VM, NIC and disk", async () => {
    daemon = await startDaemon(dirs, env());
    let out = "";
    const status = await runPod({
      socketPath: dirs.socketPath,
      command: ["echo", "from azure"],
      stdout: (c) => (out += Buffer.from(c).toString()),
      stderr: () => {},
    });
    expect({ status, out }).toEqual({ status: 0, out: "from azure\n" });
    await fake.idle();
    expect(leftovers()).toEqual(none);
  }, 120_000);

  it.each([
    ["between NIC and VM creation", true],
    ["after the VM PUT was accepted", false],
  ])(
    "after a SIGKILL %s, the restarted daemon leaves nothing orphaned",
    async (_when, beforeVm) => {
      daemon = await startDaemon(dirs, env());
      const nicPuts = fake.count("PUT", "networkInterfaces");
      // Between: the NIC exists and the VM PUT is held back (throttled). After: the VM exists.
      if (beforeVm)
        fake.inject({
          method: "PUT",
          type: "virtualMachines",
          action: { kind: "throttle", retryAfterSeconds: 3 },
          times: 1,
        });
      const reached = beforeVm
        ? () => fake.count("PUT", "networkInterfaces") > nicPuts && fake.model.nics.size > 0
        : () => fake.model.vms.size > 0;
      await create("crash");
      const starting = startDying("crash");
      await waitUntil(reached, "the crash point");
      await daemon.kill();
      // No control plane: peerpod-relay holds the shim's StartVM until its deadline, then fails it.
      expect(await starting).toMatchObject({ code: Code.DEADLINE_EXCEEDED });
      daemon = await startDaemon(dirs, env());
      await fake.idle();
      expect(await debugSandboxes(daemon.probePort)).toEqual([
        expect.objectContaining({ id: "crash", state: "failed" }),
      ]);
      await stop("crash");
      await fake.idle();
      expect(leftovers()).toEqual(none);
    },
    120_000,
  );

  it("warm pool: pool VMs carry this node's and cluster's tags and the pool's, a pod claims one, a SIGKILLed daemon's successor adopts the rest, WARM_POOL_SIZE=0 deletes them", async () => {
    const poolEnv = env({ WARM_POOL_SIZE: "1" });
    const poolVms = () => [...fake.model.vms.values()].filter((v) => v.tags["peerpods.sandbox-id"] === "_warm-pool");
    daemon = await startDaemon(dirs, poolEnv);
    const d1 = daemon;
    await pollUntil(
      "a ready pool VM",
      () => readyPoolVms(d1),
      (r) => r.length === 1,
      d1,
    );
    expect(poolVms().map((v) => v.tags)).toEqual([
      expect.objectContaining({
        "peerpods.sandbox-id": "_warm-pool",
        "peerpods.node": "test-node",
        "peerpods.cluster": await clusterMark(dirs),
      }),
    ]);
    let out = "";
    const status = await runPod({
      socketPath: dirs.socketPath,
      command: ["echo", "warm"],
      stdout: (c) => (out += Buffer.from(c).toString()),
      stderr: () => {},
    });
    expect({ status, out }).toEqual({ status: 0, out: "warm\n" });
    expect(await metricValue(d1, "caa_warm_pool_claims_total")).toBe(1);
    await pollUntil(
      "refilled",
      () => readyPoolVms(d1),
      (r) => r.length === 1,
      d1,
    );
    const kept = poolVms().map((v) => v.id);
    const putsBefore = fake.count("PUT", "virtualMachines");
    await daemon.kill(); // a crash: the pool VM keeps running
    daemon = await startDaemon(dirs, poolEnv);
    const d2 = daemon;
    await pollUntil(
      "adopted",
      () => readyPoolVms(d2),
      (r) => r.length === 1,
      d2,
    );
    expect(poolVms().map((v) => v.id)).toEqual(kept); // adopted, not made anew
    expect(fake.count("PUT", "virtualMachines")).toBe(putsBefore);
    await daemon.stop();
    daemon = await startDaemon(dirs, env({ WARM_POOL_SIZE: "0" }));
    await pollUntil(
      "deleted",
      async () => {
        await fake.idle();
        return leftovers();
      },
      (l) => l.vms + l.nics + l.disks === 0,
      daemon,
    );
  }, 300_000);
});
