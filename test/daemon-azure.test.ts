// The daemon on the azure provider, against the local ARM endpoint over HTTPS (trusted through
// NODE_EXTRA_CA_CERTS, as an operator would trust a private CA), whose VMs are local VMs: a
// pod's whole life, and SIGKILLs between NIC and VM creation and after the VM PUT. Nothing may
// be left: no VM, NIC or disk.
import fs from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { Code } from "../src/ttrpc/index.ts";
import { useCloudDaemonBed } from "./support/cloud-daemon-bed.ts";
import { clusterMark, debugSandboxes, startDaemon } from "./support/daemon-process.ts";
import { FakeArm } from "./support/fake-arm.ts";
import { localVmLauncher } from "./support/fake-arm-local-launcher.ts";
import { echoPod, hypervisorCalls } from "./support/hypervisor-calls.ts";
import { pollUntil } from "./support/warm-pool-probe.ts";
import { runWarmPoolScenario } from "./support/warm-pool-scenario.ts";

const bed = useCloudDaemonBed({
  dirsPrefix: "caa-azure-",
  startFake: (root) =>
    FakeArm.start({
      launcher: localVmLauncher(path.join(root, "azure-vms"), path.join(root, "azure-state")),
      retryAfterSeconds: 1,
    }),
  caFileName: "arm-ca.pem",
});

const env = (extra: Record<string, string> = {}) => ({
  ...bed.fake.env(),
  CLOUD_PROVIDER: "azure",
  NODE_EXTRA_CA_CERTS: bed.caFile,
  ...extra,
});
const { create, startDying, stop } = hypervisorCalls(() => bed.dirs.socketPath, { startMs: 90_000, dyingMs: 15_000 });
const leftovers = () => ({
  vms: bed.fake.model.vms.size,
  nics: bed.fake.model.nics.size,
  disks: bed.fake.model.disks.size,
});
const none = { vms: 0, nics: 0, disks: 0 };

/** Waits for a crash point, looking often: the test kills the daemon right there. */
const waitUntil = (cond: () => boolean, what: string) => pollUntil(what, cond, (v) => v, bed.daemon, 10_000, 25);

describe("cloud-api-adaptor on the azure provider", () => {
  it("runs a pod's whole life on an Azure VM and deletes VM, NIC and disk", async () => {
    bed.daemon = await startDaemon(bed.dirs, env());
    expect(await echoPod(bed.dirs.socketPath, ["from azure"])).toEqual({ status: 0, out: "from azure\n" });
    await bed.fake.idle();
    expect(leftovers()).toEqual(none);
  }, 120_000);

  it.each([
    ["between NIC and VM creation", true],
    ["after the VM PUT was accepted", false],
  ])(
    "after a SIGKILL %s, the restarted daemon leaves nothing orphaned",
    async (_when, beforeVm) => {
      bed.daemon = await startDaemon(bed.dirs, env());
      const nicPuts = bed.fake.count("PUT", "networkInterfaces");
      // Between: the NIC exists and the VM PUT is held back (throttled). After: the VM exists.
      if (beforeVm)
        bed.fake.inject({
          method: "PUT",
          type: "virtualMachines",
          action: { kind: "throttle", retryAfterSeconds: 3 },
          times: 1,
        });
      const reached = beforeVm
        ? () => bed.fake.count("PUT", "networkInterfaces") > nicPuts && bed.fake.model.nics.size > 0
        : () => bed.fake.model.vms.size > 0;
      await create("crash");
      const starting = startDying("crash");
      await waitUntil(reached, "the crash point");
      await bed.daemon.kill();
      // No control plane: peerpod-relay holds the shim's StartVM until its deadline, then fails it.
      expect(await starting).toMatchObject({ code: Code.DEADLINE_EXCEEDED });
      bed.daemon = await startDaemon(bed.dirs, env());
      await bed.fake.idle();
      expect(await debugSandboxes(bed.daemon.probePort)).toEqual([
        expect.objectContaining({ id: "crash", state: "failed" }),
      ]);
      await stop("crash");
      await bed.fake.idle();
      expect(leftovers()).toEqual(none);
    },
    120_000,
  );

  it("warm pool: pool VMs carry this node's and cluster's tags and the pool's, a pod claims one, a SIGKILLed daemon's successor adopts the rest, WARM_POOL_SIZE=0 deletes them", async () => {
    const poolVms = () =>
      [...bed.fake.model.vms.values()].filter((v) => v.tags["peerpods.sandbox-id"] === "_warm-pool");
    await runWarmPoolScenario({
      dirs: bed.dirs,
      size: 1,
      env: (size) => env({ WARM_POOL_SIZE: String(size) }),
      started: (d) => (bed.daemon = d),
      poolVms: () => poolVms().map((v) => v.id),
      checkPool: async () =>
        expect(poolVms().map((v) => v.tags)).toEqual([
          expect.objectContaining({
            "peerpods.sandbox-id": "_warm-pool",
            "peerpods.node": "test-node",
            "peerpods.cluster": await clusterMark(bed.dirs),
          }),
        ]),
      launches: () => bed.fake.count("PUT", "virtualMachines"),
      leftovers: async () => {
        await bed.fake.idle();
        return leftovers();
      },
      nothingLeft: (l) => l.vms + l.nics + l.disks === 0,
    });
  }, 300_000);
});
