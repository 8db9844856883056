// A daemon killed (SIGKILL) in the middle of createVm: during the clone and during the power-on.
// The simulator delays those two calls, so the kill lands while the server is still working
// and the VM appears (or powers on) after its creator is gone. A restarted provider must find
// that VM by name and extraConfig and carry on with it (same token) or replace it (new token),
// and reconciliation must find it by its ownership marks: never two VMs, nothing left at the end.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { buildUserData } from "../../src/userdata/index.ts";
import { peerVms as listPeerVms, vsphereEnv } from "../../test/support/vcsim.ts";
import { useVsphereTestBed } from "../../test/support/vsphere-test-bed.ts";
import type { CreateVmRequest } from "../provider.ts";
import { findByInventoryPath, type MoRef, readString, retrieveObject } from "./vim/index.ts";

const CHILD = fileURLToPath(new URL("../../test/support/vsphere-create-vm-child.ts", import.meta.url));
const DELAY_MS = 1000;
const OWNER = { node: "worker-1", cluster: "cluster-a" };
const bed = useVsphereTestBed({
  prefix: "vsphere-crash",
  vcsim: { methodDelays: { CloneVM_Task: DELAY_MS, PowerOnVM_Task: DELAY_MS } },
});
const provider = bed.provider;
const deadline = (ms = 20_000): AbortSignal => AbortSignal.timeout(ms);

function vmRequest(n: number, token = `token-${n}`): CreateVmRequest {
  const sandboxId = `sandbox-crash-${n}`;
  return {
    name: `podvm-crash-${n}`,
    token,
    owner: { sandboxId, ...OWNER },
    resources: { instanceType: undefined, vcpus: 2, memoryMiB: 2048, gpus: undefined, image: undefined },
    userData: buildUserData({ version: 1, sandboxId, listenPort: 15150, tls: undefined, podNetwork: undefined }),
  };
}

/** Runs createVm in its own process and SIGKILLs it `afterMs` after it logs `message`. */
async function killDuring(req: CreateVmRequest, message: string, afterMs = 250): Promise<string[]> {
  const input = Buffer.from(JSON.stringify({ env: vsphereEnv(bed.sim), req, timeoutMs: 30_000 })).toString("base64");
  const child = spawn(process.execPath, [CHILD, input], { stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise<void>((resolve) => child.once("close", () => resolve()));
  const messages: string[] = [];
  let stderr = "";
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  const reached = new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout }).on("line", (line) => {
      const msg = (JSON.parse(line) as { msg?: string }).msg ?? line;
      messages.push(msg);
      if (msg === message) resolve();
    });
    void exited.then(() =>
      reject(new Error(`create process ended before "${message}": ${messages.join(" | ")}\n${stderr}`)),
    );
  });
  try {
    await reached;
    await new Promise((r) => setTimeout(r, afterMs));
  } finally {
    child.kill("SIGKILL");
    await exited;
  }
  expect(child.signalCode).toBe("SIGKILL");
  return messages;
}

async function vmNamed(name: string): Promise<MoRef | undefined> {
  return findByInventoryPath(bed.admin, `DC0/vm/${name}`, deadline());
}

async function powerState(vm: MoRef): Promise<string | undefined> {
  return readString(
    (await retrieveObject(bed.admin, vm, ["runtime.powerState"], deadline()))?.props.get("runtime.powerState"),
  );
}

async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function peerVms(): Promise<Map<string, string | undefined>> {
  return listPeerVms(bed.admin, deadline());
}

async function assertNothingLeft(): Promise<void> {
  expect([...(await peerVms()).keys()]).toEqual([]);
  await eventually(async () => ((await bed.guests.local.listOwnedVms(OWNER)).length === 0 ? true : undefined));
}

describe("vSphere createVm after a crash", () => {
  it("killed during the clone, restarted once the clone exists: reuses that VM", async () => {
    const req = vmRequest(1);
    const log = await killDuring(req, "cloning the template");
    expect(log).not.toContain("cloned the template");
    const orphan = await eventually(() => vmNamed(req.name)); // the server finishes the clone alone
    expect(await powerState(orphan)).toBe("poweredOff");

    const p = provider();
    const vm = await p.createVm(req, deadline());
    expect(vm.id).toBe(orphan.value);
    expect(vm.address).toMatch(/^127\./);
    expect(vm.details).toMatchObject({ vcpus: "2", memoryMiB: "2048" });
    expect(await peerVms()).toEqual(new Map([[req.name, req.token]]));
    await p.deleteVm(vm, deadline());
    await assertNothingLeft();
  });

  it("killed during the clone, restarted at once: the second clone collides and the first is adopted", async () => {
    const req = vmRequest(2);
    await killDuring(req, "cloning the template");
    expect(await vmNamed(req.name)).toBeUndefined(); // still being cloned

    const p = provider();
    const vm = await p.createVm(req, deadline());
    expect(await peerVms()).toEqual(new Map([[req.name, req.token]]));
    expect(vm.id).toBe((await vmNamed(req.name))!.value);
    await p.deleteVm(vm, deadline());
    await assertNothingLeft();
  });

  it("killed during the power-on: the restart finds the VM and finishes the boot", async () => {
    const req = vmRequest(3);
    const log = await killDuring(req, "powering on");
    expect(log).toContain("cloned the template");
    const orphan = (await vmNamed(req.name))!;
    expect(await powerState(orphan)).toBe("poweredOff"); // the power-on is still pending

    const p = provider();
    const vm = await p.createVm(req, deadline());
    expect(vm.id).toBe(orphan.value);
    expect(await powerState(orphan)).toBe("poweredOn");
    expect(await peerVms()).toEqual(new Map([[req.name, req.token]]));
    await p.deleteVm(vm, deadline());
    await assertNothingLeft();
  });

  it("a new attempt (new token) removes what the killed one left and makes its own VM", async () => {
    const first = vmRequest(4, "token-4a");
    await killDuring(first, "cloning the template");
    const orphan = await eventually(() => vmNamed(first.name));

    const p = provider();
    const vm = await p.createVm(vmRequest(4, "token-4b"), deadline());
    expect(vm.id).not.toBe(orphan.value);
    expect(await retrieveObject(bed.admin, orphan, ["name"], deadline())).toBeUndefined();
    expect(await peerVms()).toEqual(new Map([[first.name, "token-4b"]]));
    await p.deleteVm(vm, deadline());
    await assertNothingLeft();
  });

  it("reconciliation lists what a killed create left, by its ownership marks, and deletes it", async () => {
    const req = vmRequest(5);
    await killDuring(req, "powering on");
    const orphan = (await vmNamed(req.name))!;
    await eventually(async () => ((await powerState(orphan)) === "poweredOn" ? true : undefined));

    const p = provider();
    const owned = await p.listOwnedVms(OWNER, deadline());
    expect(owned.map((v) => [v.id, v.name, v.owner.sandboxId])).toEqual([
      [orphan.value, req.name, req.owner.sandboxId],
    ]);
    for (const v of owned) await p.deleteVm(v, deadline());
    await assertNothingLeft();
  });
});
