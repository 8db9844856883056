// The VM sizes a region offers, with their vCPUs and memory, read once and kept: sizes do not
// change while the daemon runs, and the list is long.
import type { ComputeManagementClient } from "@azure/arm-compute";
import type { InstanceTypeSpec } from "../instance-types.ts";

export class SizeCatalog {
  private readonly client: ComputeManagementClient;
  private readonly region: string;
  private sizes: Promise<ReadonlyMap<string, InstanceTypeSpec>> | undefined;

  constructor(client: ComputeManagementClient, region: string) {
    this.client = client;
    this.region = region;
  }

  /** Every size of the region by lower-cased name (Azure matches size names without case). */
  all(signal: AbortSignal): Promise<ReadonlyMap<string, InstanceTypeSpec>> {
    if (this.sizes === undefined) {
      const loading = this.load(signal);
      this.sizes = loading;
      // A failed read is not kept: the next call asks again.
      loading.catch(() => {
        if (this.sizes === loading) this.sizes = undefined;
      });
    }
    return this.sizes;
  }

  private async load(signal: AbortSignal): Promise<ReadonlyMap<string, InstanceTypeSpec>> {
    const out = new Map<string, InstanceTypeSpec>();
    for await (const s of this.client.virtualMachineSizes.list(this.region, { abortSignal: signal })) {
      if (s.name === undefined) continue;
      // The sizes list carries no GPU count; GPU sizes are picked by naming them.
      out.set(s.name.toLowerCase(), {
        name: s.name,
        vcpus: s.numberOfCores ?? 0,
        memoryMiB: s.memoryInMB ?? 0,
        gpus: 0,
      });
    }
    return out;
  }
}
