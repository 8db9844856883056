// The durable record of one warm-pool VM, written before each step it announces: a restarted
// daemon finishes a boot the record says began (the create token finds the same VM) and adopts
// VMs it says are ready. A claimed VM's record is gone: the sandbox's record holds it then.

import type { ProvidedVm } from "../sandbox/index.ts";

/**
 * booting  name and token recorded; the provider may be creating it, or it boots.
 * ready    its forwarder answered "waiting": a pod may claim it.
 */
export type PoolVmState = "booting" | "ready";

export interface PoolVmRecord extends ProvidedVm {
  readonly version: 1;
  readonly name: string;
  /** Idempotency token of the create: a resumed boot finds the VM the first attempt made. */
  readonly token: string;
  readonly state: PoolVmState;
  readonly createdAt: string;
  /** When its forwarder first answered: WARM_POOL_MAX_AGE counts from here. */
  readonly readyAt?: string | undefined;
}
