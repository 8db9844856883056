import type { CreateVmRequest, Ownership, Provider, VmInstance, VmRef } from "../../providers/provider.ts";
import type { DaemonMetrics } from "./metrics.ts";

/** Wraps a provider so every call is timed and every failure counted. */
export class InstrumentedProvider implements Provider {
  readonly name: string;
  private readonly inner: Provider;
  private readonly metrics: DaemonMetrics;

  constructor(inner: Provider, metrics: DaemonMetrics) {
    this.inner = inner;
    this.name = inner.name;
    this.metrics = metrics;
  }

  check(signal: AbortSignal): Promise<void> {
    return this.time("check", () => this.inner.check(signal));
  }
  createVm(req: CreateVmRequest, signal: AbortSignal): Promise<VmInstance> {
    return this.time("create", () => this.inner.createVm(req, signal));
  }
  deleteVm(vm: VmRef, signal: AbortSignal): Promise<void> {
    return this.time("delete", () => this.inner.deleteVm(vm, signal));
  }
  listOwnedVms(owner: Omit<Ownership, "sandboxId">, signal: AbortSignal): Promise<VmInstance[]> {
    return this.time("list", () => this.inner.listOwnedVms(owner, signal));
  }
  close(): Promise<void> {
    return this.inner.close();
  }

  private async time<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    const end = this.metrics.providerCalls.startTimer({ provider: this.name, operation });
    try {
      return await fn();
    } catch (err) {
      this.metrics.providerErrors.inc({ provider: this.name, operation });
      throw err;
    } finally {
      end();
    }
  }
}
