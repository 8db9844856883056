// The machine types the zone offers, with vCPUs, memory and GPUs, read once (page by page) and
// kept: they do not change while the daemon runs.
import type { Logger } from "pino";
import type { InstanceTypeSpec } from "../instance-types.ts";
import type { ComputeClients } from "./compute-clients.ts";
import { type RetryTuning, withRetries } from "./retry.ts";

export class MachineCatalog {
  private readonly clients: ComputeClients;
  private readonly project: string;
  private readonly zone: string;
  private readonly tuning: RetryTuning;
  private readonly logger: Logger;
  private types: Promise<ReadonlyMap<string, InstanceTypeSpec>> | undefined;

  constructor(clients: ComputeClients, project: string, zone: string, tuning: RetryTuning, logger: Logger) {
    this.clients = clients;
    this.project = project;
    this.zone = zone;
    this.tuning = tuning;
    this.logger = logger;
  }

  all(signal: AbortSignal): Promise<ReadonlyMap<string, InstanceTypeSpec>> {
    if (this.types === undefined) {
      const loading = this.load(signal);
      this.types = loading;
      // A failed read is not kept: the next call asks again.
      loading.catch(() => {
        if (this.types === loading) this.types = undefined;
      });
    }
    return this.types;
  }

  private async load(signal: AbortSignal): Promise<ReadonlyMap<string, InstanceTypeSpec>> {
    const out = new Map<string, InstanceTypeSpec>();
    let pageToken: string | undefined;
    do {
      const token = pageToken;
      const [items, , raw] = await withRetries(
        "listing machine types",
        () =>
          this.clients.machineTypes.list(
            {
              project: this.project,
              zone: this.zone,
              maxResults: 500,
              ...(token === undefined ? {} : { pageToken: token }),
            },
            this.clients.call(signal),
          ),
        this.tuning,
        this.logger,
        signal,
      );
      for (const m of items) {
        if (typeof m.name !== "string") continue;
        const gpus = (m.accelerators ?? []).reduce((n, a) => n + Number(a.guestAcceleratorCount ?? 0), 0);
        out.set(m.name, { name: m.name, vcpus: Number(m.guestCpus ?? 0), memoryMiB: Number(m.memoryMb ?? 0), gpus });
      }
      pageToken = raw?.nextPageToken ?? undefined;
    } while (pageToken !== undefined && pageToken !== "");
    return out;
  }
}
