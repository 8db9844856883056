import { createHash } from "node:crypto";

/**
 * The VM's name: stable for a sandbox, within every provider's limits (64 characters on
 * Azure, DNS-label characters everywhere), readable by an operator.
 */
export function vmNameFor(sandboxId: string, podName: string | undefined): string {
  const idPart = sandboxId.toLowerCase().replace(/[^a-z0-9]/g, "").slice(0, 12) || hash(sandboxId).slice(0, 12);
  const pod = (podName ?? "").toLowerCase().replace(/[^a-z0-9-]/g, "-").replace(/^-+|-+$/g, "").slice(0, 40);
  return pod ? `podvm-${pod}-${idPart}` : `podvm-${idPart}`;
}

/** Idempotency token of one StartVM attempt: a retry after a crash reuses it; a new attempt
 * after a rollback gets a fresh one (clouds keep tokens of deleted VMs for hours). */
export function vmTokenFor(sandboxId: string, attempt: number): string {
  return hash(`${sandboxId}/${attempt}`).slice(0, 32);
}

function hash(s: string): string {
  return createHash("sha256").update(s).digest("hex");
}
