// What the provider reads about a VM, and how that becomes a VmInstance.
import type { Ownership, VmInstance } from "../provider.ts";
import { CREATE_TOKEN_KEY, ownershipOf } from "./guest-config.ts";
import { type MoRef, type ObjectContent, readBoolean, readNumber, readOptionValues, readString } from "./vim/index.ts";

export const VM_PROPERTIES = [
  "name",
  "runtime.powerState",
  "guest.ipAddress",
  "config.extraConfig",
  "config.template",
  "config.hardware.numCPU",
  "config.hardware.memoryMB",
] as const;

export interface VmView {
  readonly ref: MoRef;
  readonly name: string;
  /** poweredOn, poweredOff or suspended. */
  readonly powerState: string;
  readonly address: string | undefined;
  readonly owner: Ownership | undefined;
  readonly token: string | undefined;
  readonly template: boolean;
  readonly numCPU: number | undefined;
  readonly memoryMB: number | undefined;
}

/** Link-local addresses come and go while the guest's network starts; the worker cannot use them. */
export function usableAddress(address: string | undefined): string | undefined {
  if (address === undefined || address === "") return undefined;
  if (address.startsWith("169.254.") || /^fe80:/i.test(address)) return undefined;
  return address;
}

export function toVmView(content: ObjectContent): VmView {
  const extra = readOptionValues(content.props.get("config.extraConfig"));
  return {
    ref: content.obj,
    name: readString(content.props.get("name")) ?? "",
    powerState: readString(content.props.get("runtime.powerState")) ?? "",
    address: usableAddress(readString(content.props.get("guest.ipAddress"))),
    owner: ownershipOf(extra),
    token: extra.get(CREATE_TOKEN_KEY),
    template: readBoolean(content.props.get("config.template")) ?? false,
    numCPU: readNumber(content.props.get("config.hardware.numCPU")),
    memoryMB: readNumber(content.props.get("config.hardware.memoryMB")),
  };
}

export function toVmInstance(vm: VmView & { readonly owner: Ownership }): VmInstance {
  const details: Record<string, string> = { moref: vm.ref.value, powerState: vm.powerState };
  if (vm.numCPU !== undefined) details["vcpus"] = String(vm.numCPU);
  if (vm.memoryMB !== undefined) details["memoryMiB"] = String(vm.memoryMB);
  return { id: vm.ref.value, name: vm.name, address: vm.address, owner: vm.owner, details };
}
