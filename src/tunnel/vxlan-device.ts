// One end of a pod tunnel: a vxlan device created in the underlay namespace (where its UDP
// socket then stays for good) and moved into the namespace that uses it. Both the worker end
// (moved into the pod's netns) and the VM end (moved into podns) are made this way.
import { isIPv4 } from "node:net";
import type { LinkJson, NetnsTools } from "./netns-tools.ts";

export interface VxlanSpec {
  readonly vni: number;
  readonly remote: string;
  readonly port: number;
  /** Source address of the encapsulated packets; the kernel picks one when absent. */
  readonly local?: string | undefined;
}

const MAX_VNI = 0xffffff;

/** The device's name while it sits in the underlay namespace: unique per VNI, at most 13 chars. */
export function vxlanDeviceName(vni: number): string {
  return `vxlan${vni}`;
}

export function checkVxlanSpec(spec: VxlanSpec): void {
  if (!Number.isInteger(spec.vni) || spec.vni < 1 || spec.vni > MAX_VNI)
    throw new Error(`VXLAN VNI ${spec.vni} is outside 1..${MAX_VNI}`);
  if (!Number.isInteger(spec.port) || spec.port < 1 || spec.port > 65535)
    throw new Error(`VXLAN port ${spec.port} is not a UDP port`);
  if (!isIPv4(spec.remote)) throw new Error(`VXLAN remote "${spec.remote}" is not an IPv4 address`);
  if (spec.local !== undefined && !isIPv4(spec.local))
    throw new Error(`VXLAN local address "${spec.local}" is not an IPv4 address`);
}

export function isVxlan(link: LinkJson): boolean {
  return link.linkinfo?.info_kind === "vxlan";
}

export function matchesVxlan(link: LinkJson, spec: VxlanSpec): boolean {
  const d = link.linkinfo?.info_data;
  return (
    isVxlan(link) &&
    d !== undefined &&
    d.id === spec.vni &&
    d.remote === spec.remote &&
    d.port === spec.port &&
    (spec.local === undefined || d.local === spec.local)
  );
}

export interface EnsureVxlanOptions {
  readonly underlay: NetnsTools;
  /** Where the device ends up; must be named by path. */
  readonly target: NetnsTools;
  /** Its name in the target namespace (the underlay name is vxlanDeviceName(vni)). */
  readonly name: string;
  readonly spec: VxlanSpec;
}

/**
 * Leaves `name` in the target namespace as a vxlan device matching `spec`: a matching one is
 * kept (a retry finishes the job instead of starting over), anything else by that name is
 * replaced. The device is left down; configuring it is the caller's business.
 */
export async function ensureVxlan(o: EnsureVxlanOptions, signal?: AbortSignal): Promise<void> {
  const targetPath = o.target.netns;
  if (targetPath === undefined) throw new Error("a vxlan device can only be moved into a namespace named by path");
  const existing = await o.target.link(o.name, signal);
  if (existing !== undefined && matchesVxlan(existing, o.spec)) return;
  if (existing !== undefined) await o.target.ip(["link", "del", "dev", o.name], signal);

  const temp = vxlanDeviceName(o.spec.vni);
  await deleteVxlan(o.underlay, temp, signal);
  if (temp !== o.name) await deleteVxlan(o.target, temp, signal);
  const args = [
    "link",
    "add",
    temp,
    "type",
    "vxlan",
    "id",
    String(o.spec.vni),
    "remote",
    o.spec.remote,
    "dstport",
    String(o.spec.port),
    "nolearning",
  ];
  if (o.spec.local !== undefined) args.push("local", o.spec.local);
  await o.underlay.ip(args, signal);
  await o.underlay.ip(["link", "set", "dev", temp, "netns", targetPath], signal);
  if (temp !== o.name) await o.target.ip(["link", "set", "dev", temp, "name", o.name], signal);
}

/**
 * Deletes a vxlan device by name if there is one. A device of another kind is not ours: it is
 * an error when it blocks the name we need, so say so rather than remove it.
 */
export async function deleteVxlan(ns: NetnsTools, name: string, signal?: AbortSignal): Promise<void> {
  const link = await ns.link(name, signal);
  if (link === undefined) return;
  if (!isVxlan(link))
    throw new Error(
      `device ${name} in ${ns.describe()} is a ${link.linkinfo?.info_kind ?? link.link_type ?? "non-vxlan"} device, not a tunnel: remove or rename it`,
    );
  await ns.ip(["link", "del", "dev", name], signal);
}
