// The VirtualMachine methods the provider calls. Each starts a task and returns its reference;
// waitForTask (task.ts) awaits it.
import { type MoRef, morefXml, readMoRef } from "./moref.ts";
import type { VimClient } from "./vim-client.ts";
import { type CloneSpec, cloneSpecXml, configSpecXml, type VmConfigSpec } from "./vm-specs.ts";
import { child } from "./xml-node.ts";
import { el } from "./xml-write.ts";

async function startTask(
  client: VimClient,
  method: string,
  params: Parameters<VimClient["call"]>[1],
  signal: AbortSignal,
): Promise<MoRef> {
  const res = await client.call(method, params, signal);
  const task = readMoRef(child(res, "returnval"));
  if (task === undefined) throw new Error(`${method} answered without a task`);
  return task;
}

/** CloneVM_Task: copies `vm` (a VM or template) into `folder` under `name`. */
export function cloneVm(
  client: VimClient,
  vm: MoRef,
  folder: MoRef,
  name: string,
  spec: CloneSpec,
  signal: AbortSignal,
): Promise<MoRef> {
  return startTask(
    client,
    "CloneVM_Task",
    [morefXml("_this", vm), morefXml("folder", folder), el("name", name), cloneSpecXml(spec)],
    signal,
  );
}

export function reconfigVm(client: VimClient, vm: MoRef, spec: VmConfigSpec, signal: AbortSignal): Promise<MoRef> {
  return startTask(client, "ReconfigVM_Task", [morefXml("_this", vm), configSpecXml("spec", spec)], signal);
}

export function powerOnVm(client: VimClient, vm: MoRef, signal: AbortSignal): Promise<MoRef> {
  return startTask(client, "PowerOnVM_Task", [morefXml("_this", vm)], signal);
}

export function powerOffVm(client: VimClient, vm: MoRef, signal: AbortSignal): Promise<MoRef> {
  return startTask(client, "PowerOffVM_Task", [morefXml("_this", vm)], signal);
}

/** Destroy_Task: unregisters the VM and deletes its files. */
export function destroyVm(client: VimClient, vm: MoRef, signal: AbortSignal): Promise<MoRef> {
  return startTask(client, "Destroy_Task", [morefXml("_this", vm)], signal);
}
