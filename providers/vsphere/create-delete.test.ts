import { describe, expect, it } from "vitest";
import { waitForForwarder } from "../../src/proxy/wait-for-forwarder.ts";
import { buildUserData } from "../../src/userdata/index.ts";
import { actOnForeignVm, foreignOwners } from "../../test/support/foreign-vm-survival.ts";
import { rejection } from "../../test/support/provider-rejection.ts";
import { useVsphereTestBed } from "../../test/support/vsphere-test-bed.ts";
import { type CreateVmRequest, OWNERSHIP_KEYS, type Ownership } from "../provider.ts";
import { guestExtraConfig } from "./guest-config.ts";
import {
  cloneVm,
  destroyVm,
  findByInventoryPath,
  type MoRef,
  powerOffVm,
  readNumber,
  readOptionValues,
  readRef,
  readString,
  retrieveObject,
  retrieveProperties,
  waitForTask,
} from "./vim/index.ts";

const OWNER = { node: "worker-1", cluster: "cluster-a" };
const bed = useVsphereTestBed({
  prefix: "vsphere-guests",
  vcsim: { datastores: 2, vmFolder: "peerpods" },
  env: { GOVC_FOLDER: "peerpods", GOVC_DATASTORE: "LocalDS_1" },
});
const provider = bed.provider;

function vmRequest(n: number, extra: Partial<CreateVmRequest> = {}): CreateVmRequest {
  const sandboxId = `sandbox-${n}`;
  return {
    name: `podvm-${n}`,
    token: `token-${n}`,
    owner: { sandboxId, ...OWNER },
    resources: { instanceType: undefined, vcpus: 2, memoryMiB: 3000, gpus: undefined, image: undefined },
    userData: buildUserData({ version: 1, sandboxId, listenPort: 15150, tls: undefined, podNetwork: undefined }),
    ...extra,
  };
}

const deadline = (ms = 20_000): AbortSignal => AbortSignal.timeout(ms);

/** Names of the VMs in the peerpods folder. */
async function folderVms(): Promise<string[]> {
  const folder = (await findByInventoryPath(bed.admin, "DC0/vm/peerpods", deadline()))!;
  const found = await retrieveProperties(
    bed.admin,
    [{ type: "VirtualMachine", pathSet: ["name"] }],
    [{ obj: folder, skip: true, selectSet: [{ name: "c", type: "Folder", path: "childEntity" }] }],
    deadline(),
  );
  return found.map((o) => readString(o.props.get("name"))!).sort();
}

async function eventually(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A VM without our marks, as an operator might have made one. */
async function foreignVm(name: string): Promise<MoRef> {
  const template = (await findByInventoryPath(bed.admin, "DC0/vm/podvm-template", deadline()))!;
  const folder = (await findByInventoryPath(bed.admin, "DC0/vm/peerpods", deadline()))!;
  const pool = (await findByInventoryPath(bed.admin, "DC0/host/DC0_C0/Resources", deadline()))!;
  const task = await cloneVm(
    bed.admin,
    template,
    folder,
    name,
    { location: { pool }, template: false, powerOn: false },
    deadline(),
  );
  return readRef(await waitForTask(bed.admin, task, "CloneVM_Task", deadline()))!;
}

describe("vSphere createVm / listOwnedVms / deleteVm", () => {
  it("clones, sizes, hands over user-data and ownership, boots, and returns the guest's address", async () => {
    const p = provider();
    await p.check(deadline());
    const req = vmRequest(1);
    const vm = await p.createVm(req, deadline());

    expect(vm).toMatchObject({
      name: "podvm-1",
      owner: req.owner,
      details: { powerState: "poweredOn", vcpus: "2", memoryMiB: "3000" },
    });
    const local = (await bed.guests.local.listOwnedVms(OWNER)).find((l) => l.name === "podvm-1");
    expect(vm.address).toBe(local?.address);
    // The forwarder configured by the user-data relays to a live agent at that address.
    await waitForForwarder({ host: vm.address!, port: 15150, tls: undefined, signal: deadline() });

    const found = (await retrieveObject(
      bed.admin,
      { type: "VirtualMachine", value: vm.id },
      ["config.extraConfig", "config.hardware.numCPU", "config.hardware.memoryMB", "datastore", "parent"],
      deadline(),
    ))!;
    const extra = readOptionValues(found.props.get("config.extraConfig"));
    expect(Buffer.from(extra.get("guestinfo.userdata")!, "base64").toString("utf8")).toBe(req.userData);
    expect(extra.get("guestinfo.userdata.encoding")).toBe("base64");
    expect(JSON.parse(Buffer.from(extra.get("guestinfo.metadata")!, "base64").toString("utf8"))).toEqual({
      "instance-id": "podvm-1",
      "local-hostname": "podvm-1",
    });
    expect(extra.get("guestinfo.metadata.encoding")).toBe("base64");
    expect([
      extra.get(OWNERSHIP_KEYS.sandboxId),
      extra.get(OWNERSHIP_KEYS.node),
      extra.get(OWNERSHIP_KEYS.cluster),
    ]).toEqual(["sandbox-1", "worker-1", "cluster-a"]);
    expect(extra.get("peerpods.create-token")).toBe("token-1");
    // The simulator ignores a clone spec's CPU and memory: these come from the explicit reconfigure.
    expect(readNumber(found.props.get("config.hardware.numCPU"))).toBe(2);
    expect(readNumber(found.props.get("config.hardware.memoryMB"))).toBe(3000);
    const datastore = (await findByInventoryPath(bed.admin, "DC0/datastore/LocalDS_1", deadline()))!;
    expect(found.props.get("datastore")?.children.map((c) => c.text)).toEqual([datastore.value]);
    expect(readRef(found.props.get("parent"))?.value).toBe(
      (await findByInventoryPath(bed.admin, "DC0/vm/peerpods", deadline()))!.value,
    );

    // The same create again (a retry after a lost answer) finds the same VM.
    const again = await p.createVm(req, deadline());
    expect(again.id).toBe(vm.id);
    expect(await folderVms()).toEqual(["podvm-1"]);

    // Listed for its node and cluster only.
    expect((await p.listOwnedVms(OWNER, deadline())).map((v) => [v.id, v.name, v.address, v.owner])).toEqual([
      [vm.id, "podvm-1", vm.address, req.owner],
    ]);
    expect(await p.listOwnedVms({ node: "worker-2", cluster: "cluster-a" }, deadline())).toEqual([]);
    expect(await p.listOwnedVms({ node: "worker-1", cluster: "cluster-b" }, deadline())).toEqual([]);

    await p.deleteVm(vm, deadline());
    expect(await folderVms()).toEqual([]);
    expect(
      await retrieveObject(bed.admin, { type: "VirtualMachine", value: vm.id }, ["name"], deadline()),
    ).toBeUndefined();
    // The guest behind the address went with it.
    await eventually(async () => !(await bed.guests.local.listOwnedVms(OWNER)).some((l) => l.name === "podvm-1"));
    await p.deleteVm(vm, deadline()); // already gone: success
    await p.deleteVm({ id: undefined, name: "podvm-1", owner: vm.owner }, deadline());
  });

  it("deletes by name when the create never returned an id, and keeps the template's size when none is asked", async () => {
    const p = provider();
    const req = vmRequest(2, {
      resources: { instanceType: undefined, vcpus: undefined, memoryMiB: undefined, gpus: undefined, image: undefined },
    });
    const vm = await p.createVm(req, deadline());
    const template = (await findByInventoryPath(bed.admin, "DC0/vm/podvm-template", deadline()))!;
    const size = (await retrieveObject(
      bed.admin,
      template,
      ["config.hardware.numCPU", "config.hardware.memoryMB"],
      deadline(),
    ))!;
    expect(vm.details).toMatchObject({
      vcpus: readString(size.props.get("config.hardware.numCPU")),
      memoryMiB: readString(size.props.get("config.hardware.memoryMB")),
    });
    await p.deleteVm({ id: undefined, name: req.name, owner: req.owner }, deadline());
    expect(await folderVms()).toEqual([]);
  });

  it("never touches a VM without our marks, whether asked to delete it or to create one of its name", async () => {
    const p = provider();
    const foreign = await foreignVm("podvm-3");
    // Not ours: left alone, which for the caller counts as gone.
    await p.deleteVm({ id: undefined, name: "podvm-3", owner: { ...OWNER, sandboxId: "sandbox-3" } }, deadline());
    expect(await folderVms()).toEqual(["podvm-3"]);
    // An id that names a VM of another name is not trusted either: the name decides.
    await p.deleteVm(
      { id: foreign.value, name: "podvm-other", owner: { ...OWNER, sandboxId: "sandbox-3" } },
      deadline(),
    );
    const create = await rejection(p.createVm(vmRequest(3), deadline()));
    expect(create.message).toContain("already exists in DC0/vm/peerpods without the peerpods.sandbox-id mark");
    expect(await folderVms()).toEqual(["podvm-3"]);
    expect(await p.listOwnedVms(OWNER, deadline())).toEqual([]);
    await waitForTask(bed.admin, await destroyVm(bed.admin, foreign, deadline()), "Destroy_Task", deadline());
  });

  it("gives up at the deadline when the guest reports no address, saying why; deleteVm then leaves nothing", async () => {
    const p = provider();
    await bed.stopGuests(); // no VMware Tools stand-in: the clone never gets an address
    try {
      const err = await rejection(p.createVm(vmRequest(4), deadline(1500)));
      expect(err.message).toContain(
        "podvm-4 reported no IP address before the deadline: VMware Tools (open-vm-tools) must run",
      );
      expect(err.retryable).toBe(true);
      await p.deleteVm({ id: undefined, name: "podvm-4", owner: vmRequest(4).owner }, deadline());
      expect(await folderVms()).toEqual([]);
    } finally {
      bed.restartGuests();
    }
  });

  it("removes the clone when it fails to come up (powered off before reporting an address)", async () => {
    const p = provider();
    await bed.stopGuests();
    try {
      const creating = rejection(p.createVm(vmRequest(5), deadline()));
      // Switch it off as soon as it is on, as a guest that crashes at boot would be.
      let vm: MoRef | undefined;
      while (vm === undefined) {
        const ref = await findByInventoryPath(bed.admin, "DC0/vm/peerpods/podvm-5", deadline());
        const on =
          ref === undefined ? undefined : await retrieveObject(bed.admin, ref, ["runtime.powerState"], deadline());
        if (readString(on?.props.get("runtime.powerState")) === "poweredOn") vm = ref;
        else await new Promise((r) => setTimeout(r, 20));
      }
      await waitForTask(bed.admin, await powerOffVm(bed.admin, vm, deadline()), "PowerOffVM_Task", deadline());
      const err = await creating;
      expect(err.message).toContain("podvm-5 powered off before it reported an address");
      expect(await folderVms()).toEqual([]);
    } finally {
      bed.restartGuests();
    }
  });

  for (const { what, owner } of foreignOwners(OWNER)) {
    it(`leaves ${what} VM of the same name alone through StopVM, a rollback, the start-up sweep and a create`, async () => {
      const name = "podvm-collide";
      const theirs = await markedVm(name, owner);
      const report = await actOnForeignVm(provider(), OWNER, { name, id: theirs.value, owner });
      expect([report.rolledBack.length, report.finishedStops.length, report.orphansDeleted]).toEqual([1, 1, []]);
      expect(await folderVms()).toEqual([name]);
      // A create of that name on our node of our cluster (for its sandbox, when that is what
      // differs) does not replace it.
      const sandboxId = owner.node === OWNER.node && owner.cluster === OWNER.cluster ? "sandbox-9" : owner.sandboxId;
      const create = await rejection(
        provider().createVm(vmRequest(9, { name, owner: { ...OWNER, sandboxId } }), deadline()),
      );
      expect(create.message).toContain(
        `a VM named ${name} in DC0/vm/peerpods belongs to sandbox ${owner.sandboxId} on node ${owner.node} of cluster ${owner.cluster}`,
      );
      expect(await folderVms()).toEqual([name]);
      await waitForTask(bed.admin, await destroyVm(bed.admin, theirs, deadline()), "Destroy_Task", deadline());
    });
  }
});

/** A powered-off clone carrying `owner`'s marks, as another daemon's create would leave it. */
async function markedVm(name: string, owner: Ownership): Promise<MoRef> {
  const template = (await findByInventoryPath(bed.admin, "DC0/vm/podvm-template", deadline()))!;
  const folder = (await findByInventoryPath(bed.admin, "DC0/vm/peerpods", deadline()))!;
  const pool = (await findByInventoryPath(bed.admin, "DC0/host/DC0_C0/Resources", deadline()))!;
  const config = { extraConfig: guestExtraConfig(name, "token-theirs", owner, "#cloud-config\n") };
  const task = await cloneVm(
    bed.admin,
    template,
    folder,
    name,
    { location: { pool }, template: false, config, powerOn: false },
    deadline(),
  );
  return readRef(await waitForTask(bed.admin, task, "CloneVM_Task", deadline()))!;
}
