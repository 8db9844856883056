// Points in StartVM/StopVM where crash tests stop the daemon dead (CAA_TEST_FAILPOINT): a setting
// the configuration validates, so it lives with the configuration, below the sandbox manager.
export const FAILPOINTS = [
  "start-after-intent",
  "start-after-create",
  "start-after-vm-saved",
  "start-after-relay",
  "stop-after-intent",
  "stop-after-delete",
] as const;

export type Failpoint = (typeof FAILPOINTS)[number];
