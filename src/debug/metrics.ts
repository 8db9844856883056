import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { SandboxState } from "../sandbox/index.ts";

/** The daemon's Prometheus metrics, on a registry of its own (no global state). */
export class DaemonMetrics {
  readonly registry = new Registry();
  readonly hypervisorCalls: Counter<"method" | "code">;
  readonly hypervisorLatency: Histogram<"method">;
  readonly providerCalls: Histogram<"provider" | "operation">;
  readonly providerErrors: Counter<"provider" | "operation">;
  readonly relayBytes: Counter<"direction">;
  readonly startPhases: Histogram<"phase">;
  readonly startDuration: Histogram<"path">;
  readonly warmPoolClaims: Counter;
  readonly warmPoolMisses: Counter<"reason">;

  /** `relayedBytes` asks peerpod-relay, which relays the agent connections, at each scrape;
   * `poolByState` counts the warm pool's unclaimed VMs. */
  constructor(
    sandboxesByState: () => Record<SandboxState, number>,
    relayedBytes?: () => Promise<Record<"to_vm" | "from_vm", number> | undefined>,
    poolByState: () => Record<"booting" | "ready", number> = () => ({ booting: 0, ready: 0 }),
  ) {
    collectDefaultMetrics({ register: this.registry, prefix: "caa_" });
    this.hypervisorCalls = new Counter({
      name: "caa_hypervisor_calls_total",
      help: "Hypervisor service calls by method and ttrpc status code",
      labelNames: ["method", "code"],
      registers: [this.registry],
    });
    this.hypervisorLatency = new Histogram({
      name: "caa_hypervisor_call_duration_seconds",
      help: "Hypervisor service call latency",
      labelNames: ["method"],
      buckets: [0.001, 0.005, 0.02, 0.1, 0.5, 2, 10, 30, 60, 120, 300, 600],
      registers: [this.registry],
    });
    this.providerCalls = new Histogram({
      name: "caa_provider_call_duration_seconds",
      help: "Cloud provider call latency by operation",
      labelNames: ["provider", "operation"],
      buckets: [0.01, 0.05, 0.2, 1, 5, 15, 30, 60, 120, 300, 600],
      registers: [this.registry],
    });
    this.providerErrors = new Counter({
      name: "caa_provider_errors_total",
      help: "Cloud provider calls that failed, by operation",
      labelNames: ["provider", "operation"],
      registers: [this.registry],
    });
    this.relayBytes = new Counter({
      name: "caa_agent_relay_bytes_total",
      help: "Bytes peerpod-relay relayed between shims and peer VMs (to_vm, from_vm) since it started",
      labelNames: ["direction"],
      registers: [this.registry],
      async collect() {
        const totals = await relayedBytes?.().catch(() => undefined);
        if (totals === undefined) return;
        this.reset();
        for (const [direction, n] of Object.entries(totals)) this.inc({ direction }, n);
      },
    });
    this.startPhases = new Histogram({
      name: "caa_startvm_phase_seconds",
      help: "Where StartVM's time goes: provider_create (cold) or claim (warm), vm_boot (until the forwarder answers), tunnel, daemon (the rest)",
      labelNames: ["phase"],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2, 10, 30, 120, 600],
      registers: [this.registry],
    });
    this.startDuration = new Histogram({
      name: "caa_startvm_duration_seconds",
      help: "Successful StartVM calls by path: warm (a pool VM claimed) or cold (a VM created and booted)",
      labelNames: ["path"],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600],
      registers: [this.registry],
    });
    this.warmPoolClaims = new Counter({
      name: "caa_warm_pool_claims_total",
      help: "StartVM calls that claimed a warm pool VM",
      registers: [this.registry],
    });
    this.warmPoolMisses = new Counter({
      name: "caa_warm_pool_misses_total",
      help: "StartVM calls that went cold while the pool is on, by reason (instance_type, size, gpus, image, initdata, empty, claim_failed)",
      labelNames: ["reason"],
      registers: [this.registry],
    });
    new Gauge({
      name: "caa_warm_pool_vms",
      help: "Unclaimed warm pool VMs by state (booting, ready)",
      labelNames: ["state"],
      registers: [this.registry],
      collect() {
        for (const [state, n] of Object.entries(poolByState())) this.set({ state }, n);
      },
    });
    new Gauge({
      name: "caa_sandboxes",
      help: "Sandboxes on this node by state",
      labelNames: ["state"],
      registers: [this.registry],
      collect() {
        for (const [state, n] of Object.entries(sandboxesByState())) this.set({ state }, n);
      },
    });
  }
}
