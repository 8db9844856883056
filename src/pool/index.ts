// The warm pool of booted, single-use peer VMs: create, adopt, claim, refill.
export { type ClaimClientTls, type ClaimTarget, sendClaimRequest } from "./claim-client.ts";
export { MISS_REASONS, type MissReason, type PoolShape, poolMiss } from "./pool-fit.ts";
export type { PoolVmRecord, PoolVmState } from "./pool-record.ts";
export { PoolStore } from "./pool-store.ts";
export { newPoolVm, POOL_VM_NAME_PATTERN } from "./pool-vm-name.ts";
export { type PoolTlsIssuer, type PoolVmView, WarmPool, type WarmPoolOptions } from "./warm-pool.ts";
