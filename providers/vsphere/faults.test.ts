// createVm when something is wrong (no check beforehand, as after a change while the daemon
// runs): the template missing or removed, an unknown datastore, a refused login, an unreachable
// server. Each gives a ProviderError that says what to fix, and no VM is left behind.
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildUserData } from "../../src/userdata/index.ts";
import { rejection } from "../../test/support/provider-rejection.ts";
import { peerVms, simClient, startVcsim, type Vcsim, vsphereEnv } from "../../test/support/vcsim.ts";
import type { CreateVmRequest } from "../provider.ts";
import { vsphereProviderConfig } from "./config.ts";
import { VsphereProvider } from "./provider.ts";
import {
  cloneVm,
  destroyVm,
  findByInventoryPath,
  readRef,
  retrieveProperties,
  type VimClient,
  waitForTask,
} from "./vim/index.ts";

const OWNER = { node: "worker-1", cluster: "cluster-a" };
let sim: Vcsim;
let admin: VimClient;
const providers: VsphereProvider[] = [];

beforeAll(async () => {
  sim = await startVcsim();
  admin = simClient(sim);
});
afterAll(async () => {
  for (const p of providers) await p.close();
  admin?.close();
  await sim?.stop();
});

const deadline = (ms = 15_000): AbortSignal => AbortSignal.timeout(ms);

function provider(extra: Record<string, string | undefined> = {}): VsphereProvider {
  const p = new VsphereProvider(vsphereProviderConfig(vsphereEnv(sim, extra)), {
    logger: pino({ level: "silent" }),
    taskPollMs: 100,
    addressPollMs: 100,
  });
  providers.push(p);
  return p;
}

function vmRequest(n: number): CreateVmRequest {
  const sandboxId = `sandbox-fault-${n}`;
  return {
    name: `podvm-fault-${n}`,
    token: `token-${n}`,
    owner: { sandboxId, ...OWNER },
    resources: { instanceType: undefined, vcpus: 1, memoryMiB: 512, gpus: undefined, image: undefined },
    userData: buildUserData({ version: 1, sandboxId, listenPort: 15150, tls: undefined, podNetwork: undefined }),
  };
}

async function assertNoPeerVms(): Promise<void> {
  expect([...(await peerVms(admin, deadline())).keys()]).toEqual([]);
}

describe("vSphere createVm faults", () => {
  it("names a template that does not exist", async () => {
    const err = await rejection(provider({ GOVC_TEMPLATE: "podvm-template-v2" }).createVm(vmRequest(1), deadline()));
    expect(err.message).toBe(
      `creating podvm-fault-1: GOVC_TEMPLATE=podvm-template-v2: no VM template at inventory path "DC0/vm/podvm-template-v2"`,
    );
    expect(err.retryable).toBe(false);
    await assertNoPeerVms();
  });

  it("notices a template removed after it was looked up, and names it on the next attempt", async () => {
    // A second source VM, so the shared template stays for the other tests.
    const template = (await findByInventoryPath(admin, "DC0/vm/podvm-template", deadline()))!;
    const folder = (await findByInventoryPath(admin, "DC0/vm", deadline()))!;
    const pool = (await findByInventoryPath(admin, "DC0/host/DC0_C0/Resources", deadline()))!;
    const spare = readRef(
      await waitForTask(
        admin,
        await cloneVm(
          admin,
          template,
          folder,
          "spare-template",
          { location: { pool }, template: false, powerOn: false },
          deadline(),
        ),
        "CloneVM_Task",
        deadline(),
      ),
    )!;
    const p = provider({ GOVC_TEMPLATE: "spare-template" });
    // The first create resolves (and remembers) the template; without a guest it gives up soon.
    await rejection(p.createVm(vmRequest(2), deadline(800)));
    await p.deleteVm({ id: undefined, name: "podvm-fault-2", owner: vmRequest(2).owner }, deadline());
    await waitForTask(admin, await destroyVm(admin, spare, deadline()), "Destroy_Task", deadline());

    const gone = await rejection(p.createVm(vmRequest(2), deadline()));
    expect(gone.message).toMatch(/^creating podvm-fault-2: CloneVM_Task: ManagedObjectNotFound/);
    const named = await rejection(p.createVm(vmRequest(2), deadline()));
    expect(named.message).toContain(
      `GOVC_TEMPLATE=spare-template: no VM template at inventory path "DC0/vm/spare-template"`,
    );
    await assertNoPeerVms();
  });

  it("names an unknown datastore", async () => {
    const err = await rejection(provider({ GOVC_DATASTORE: "LocalDS_9" }).createVm(vmRequest(3), deadline()));
    expect(err.message).toContain(`GOVC_DATASTORE=LocalDS_9: no datastore at inventory path "DC0/datastore/LocalDS_9"`);
    await assertNoPeerVms();
  });

  it("reports a refused login, for every call, without retrying it", async () => {
    const p = provider({ GOVC_PASSWORD: "not-the-password" });
    for (const call of [
      p.createVm(vmRequest(4), deadline()),
      p.deleteVm({ id: undefined, name: "podvm-fault-4", owner: vmRequest(4).owner }, deadline()),
      p.listOwnedVms(OWNER, deadline()),
    ]) {
      const err = await rejection(call);
      expect(err.message).toContain(`refused the login of GOVC_USERNAME=${sim.username} (InvalidLogin)`);
      expect(err.retryable).toBe(false);
    }
    await assertNoPeerVms();
  });

  it("reports an unreachable server as worth retrying", async () => {
    const p = provider({ GOVC_URL: "https://127.0.0.1:1/sdk" });
    for (const call of [
      p.createVm(vmRequest(5), deadline()),
      p.deleteVm({ id: "vm-1", name: "podvm-fault-5", owner: vmRequest(5).owner }, deadline()),
      p.listOwnedVms(OWNER, deadline()),
    ]) {
      const err = await rejection(call);
      expect(err.message).toContain("cannot reach https://127.0.0.1:1");
      expect(err.message).toContain("check GOVC_URL");
      expect(err.retryable).toBe(true);
    }
    await assertNoPeerVms();
  });

  it("leaves the folder as it was", async () => {
    const folder = (await findByInventoryPath(admin, "DC0/vm", deadline()))!;
    const vms = await retrieveProperties(
      admin,
      [{ type: "VirtualMachine", pathSet: ["name"] }],
      [{ obj: folder, skip: true, selectSet: [{ name: "c", type: "Folder", path: "childEntity" }] }],
      deadline(),
    );
    expect(vms.map((v) => v.props.get("name")?.text).sort()).toEqual(["podvm-template"]);
  });
});
