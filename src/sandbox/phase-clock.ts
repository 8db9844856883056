// Where a successful StartVM's time went, so slow pod starts can be traced to the provider, the
// VM's boot or the daemon itself.

/** provider_create: the provider's create call; vm_boot: until the VM's forwarder answers;
 * tunnel: both tunnel steps; daemon: everything else StartVM did (records, certificates,
 * user-data, relay). */
export type StartPhase = "provider_create" | "vm_boot" | "tunnel" | "daemon";

/** Splits one StartVM's wall time into named phases; what no phase claims is the daemon's. */
export class PhaseClock {
  private readonly started = performance.now();
  private readonly spent = new Map<StartPhase, number>();

  async time<T>(phase: StartPhase, fn: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      this.spent.set(phase, (this.spent.get(phase) ?? 0) + performance.now() - t0);
    }
  }

  /** Reports every phase and returns them, in seconds, for the log line. */
  report(sink: ((phase: StartPhase, seconds: number) => void) | undefined): Record<StartPhase, number> {
    const total = performance.now() - this.started;
    let claimed = 0;
    for (const ms of this.spent.values()) claimed += ms;
    const out = {
      provider_create: (this.spent.get("provider_create") ?? 0) / 1000,
      vm_boot: (this.spent.get("vm_boot") ?? 0) / 1000,
      tunnel: (this.spent.get("tunnel") ?? 0) / 1000,
      daemon: (total - claimed) / 1000,
    };
    if (sink !== undefined) for (const [k, v] of Object.entries(out)) sink(k as StartPhase, v);
    return out;
  }
}
