import type { Ownership } from "../../providers/provider.ts";
import { sha256Hex as hash } from "../util/sha256-hex.ts";

/**
 * The VM's name: stable for a sandbox, within every provider's limits (63 characters, a DNS
 * label), readable by an operator (pod name, start of the sandbox id), and distinct for every
 * sandbox on every node of every cluster: it ends in a hash of the whole id, node and cluster,
 * since the readable parts are cut and lower-cased and clouds are shared.
 */
export function vmNameFor(owner: Ownership, podName: string | undefined): string {
  const unique = hash(JSON.stringify([owner.cluster, owner.node, owner.sandboxId])).slice(0, 16);
  const pod = (podName ?? "")
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, "-")
    .replace(/-+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 30)
    .replace(/-+$/, "");
  const idPart = owner.sandboxId
    .toLowerCase()
    .replace(/[^a-z0-9]/g, "")
    .slice(0, pod ? 8 : 12);
  return ["podvm", pod, idPart, unique].filter((p) => p !== "").join("-");
}

/** Idempotency token of one StartVM attempt: a retry after a crash reuses it; a new attempt
 * after a rollback gets a fresh one (clouds keep tokens of deleted VMs for hours). */
export function vmTokenFor(sandboxId: string, attempt: number): string {
  return hash(`${sandboxId}/${attempt}`).slice(0, 32);
}
