// Points in StartVM/StopVM where crash tests stop the daemon dead (CAA_TEST_FAILPOINT): a setting
// the configuration validates, so it lives with the configuration, below the sandbox manager.
export const FAILPOINTS = [
  "start-after-intent",
  "start-after-create",
  "start-after-vm-saved",
  "start-after-relay",
  "start-after-claim-record",
  "start-after-claim",
  "stop-after-intent",
  "stop-after-delete",
  "pool-after-intent",
  "pool-after-create",
] as const;

export type Failpoint = (typeof FAILPOINTS)[number];

/** The warm pool's failpoints (a pool VM's boot), apart from the sandbox manager's. */
export const POOL_FAILPOINTS = ["pool-after-intent", "pool-after-create"] as const satisfies readonly Failpoint[];

export type PoolFailpoint = (typeof POOL_FAILPOINTS)[number];
