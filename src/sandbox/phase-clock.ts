// Where a successful StartVM's time went, so slow pod starts can be traced to the provider, the
// VM's boot or the daemon itself.

/** provider_create: the provider's create call; vm_boot: until the VM's forwarder answers (0
 * on a warm start whose claim reply vouched for the agent);
 * claim: handing a warm pool VM the pod's configuration; tunnel: both tunnel steps; daemon:
 * everything else StartVM did (records, certificates, user-data, relay). */
export type StartPhase = "provider_create" | "vm_boot" | "claim" | "tunnel" | "daemon";

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

  /** Seconds since the clock started: the whole StartVM. */
  totalSeconds(): number {
    return (performance.now() - this.started) / 1000;
  }

  /** Reports the phases of the start's path and returns them, in seconds, for the log line: a
   * warm start claims a VM instead of creating one. */
  report(sink: ((phase: StartPhase, seconds: number) => void) | undefined): Partial<Record<StartPhase, number>> {
    const total = performance.now() - this.started;
    let claimed = 0;
    for (const ms of this.spent.values()) claimed += ms;
    const seconds = (phase: StartPhase) => (this.spent.get(phase) ?? 0) / 1000;
    const first: StartPhase = this.spent.has("claim") ? "claim" : "provider_create";
    const out: Partial<Record<StartPhase, number>> = {
      [first]: seconds(first),
      vm_boot: seconds("vm_boot"),
      tunnel: seconds("tunnel"),
      daemon: (total - claimed) / 1000,
    };
    if (sink !== undefined) for (const [k, v] of Object.entries(out)) sink(k as StartPhase, v ?? 0);
    return out;
  }
}
