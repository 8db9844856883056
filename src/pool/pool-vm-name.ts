// Pool VMs are named like every peer VM (src/sandbox/vm-name.ts): "podvm-", a readable part
// ("pool" and the start of the pool slot's id), and a hash of the slot id, node and cluster, so
// names are distinct on every node of every cluster sharing a cloud account.
import { randomBytes } from "node:crypto";
import type { Ownership } from "../../providers/provider.ts";
import { vmNameFor } from "../sandbox/index.ts";

/** Pool VM names, valid on every provider (and as file names of their records). */
export const POOL_VM_NAME_PATTERN = /^podvm-pool-[0-9a-f]{8}-[0-9a-f]{16}$/;

/** A fresh pool VM's name and its create's idempotency token. */
export function newPoolVm(owner: Omit<Ownership, "sandboxId">): { name: string; token: string } {
  const slot = randomBytes(6).toString("hex");
  return { name: vmNameFor({ ...owner, sandboxId: slot }, "pool"), token: randomBytes(16).toString("hex") };
}
