// The worker end's plumbing: tc ingress filters that hand every frame arriving on one device
// to the other (mirred egress redirect), both ways. The pod's namespace becomes a conduit
// between its CNI interface and the vxlan device; its own IP stack sees nothing any more.
import type { NetnsTools } from "./netns-tools.ts";

/**
 * Installs the redirect `a` ⇄ `b`. Each device's ingress qdisc is made afresh, so a retry after
 * a crash ends with exactly one filter per direction; any other ingress filter on these
 * devices could only act on frames that are now redirected anyway.
 */
export async function installRedirect(ns: NetnsTools, a: string, b: string, signal?: AbortSignal): Promise<void> {
  for (const [from, to] of [
    [a, b],
    [b, a],
  ] as const) {
    if (await ns.hasIngressQdisc(from, signal)) await ns.tc(["qdisc", "del", "dev", from, "ingress"], signal);
    await ns.tc(["qdisc", "add", "dev", from, "ingress"], signal);
    await ns.tc(
      [
        "filter",
        "add",
        "dev",
        from,
        "parent",
        "ffff:",
        "protocol",
        "all",
        "u32",
        "match",
        "u8",
        "0",
        "0",
        "action",
        "mirred",
        "egress",
        "redirect",
        "dev",
        to,
      ],
      signal,
    );
  }
}

/** Devices `from`'s ingress filters redirect to (one entry per mirred redirect action). */
export async function redirectTargets(ns: NetnsTools, from: string, signal?: AbortSignal): Promise<string[]> {
  const out: string[] = [];
  for (const f of await ns.ingressFilters(from, signal)) {
    for (const a of f.options?.actions ?? [])
      if (a.kind === "mirred" && a.mirred_action === "redirect" && a.to_dev !== undefined) out.push(a.to_dev);
  }
  return out;
}

/** How tc names a redirect target that has been deleted since. */
const GONE = "*";

/**
 * Removes `from`'s ingress qdisc (and with it its filters) when it redirects to `to`, or to a
 * device that is gone (`to` deleted before a crash): that redirect is ours, and a dangling one
 * would only drop the frames.
 */
export async function removeRedirect(ns: NetnsTools, from: string, to: string, signal?: AbortSignal): Promise<void> {
  if ((await ns.link(from, signal)) === undefined) return;
  if (!(await ns.hasIngressQdisc(from, signal))) return;
  if (!(await redirectTargets(ns, from, signal)).some((t) => t === to || t === GONE)) return;
  await ns.tc(["qdisc", "del", "dev", from, "ingress"], signal);
}
