// The Compute Engine clients the provider talks through: Google's own @google-cloud/compute
// on its REST transport (HTTPS + JSON, as the public endpoint and Private Service Connect serve
// it; no gRPC), all sharing one credential and one endpoint split into host, port and protocol.
// Each client is built on first use: building one parses Compute Engine's large API
// description, and most calls need only instances and zone operations.
//
// The clients never retry on their own: every call goes with `retry: null`. Inserts, deletes
// and operation waits are not idempotent for the library (it would not retry them anyway) and
// the provider retries throttling, 5xx and lost answers itself, with the request id that makes
// a repeated insert or delete harmless, always within the call's deadline.

import { DisksClient } from "@google-cloud/compute/build/src/v1/disks_client.js";
import { ImagesClient } from "@google-cloud/compute/build/src/v1/images_client.js";
import { InstancesClient } from "@google-cloud/compute/build/src/v1/instances_client.js";
import { MachineTypesClient } from "@google-cloud/compute/build/src/v1/machine_types_client.js";
import { NetworksClient } from "@google-cloud/compute/build/src/v1/networks_client.js";
import { SubnetworksClient } from "@google-cloud/compute/build/src/v1/subnetworks_client.js";
import { ZoneOperationsClient } from "@google-cloud/compute/build/src/v1/zone_operations_client.js";
import { ZonesClient } from "@google-cloud/compute/build/src/v1/zones_client.js";
import type { CallOptions, ClientOptions } from "google-gax";
import type { ComputeEndpoint } from "./config.ts";
import type { GcpAuth } from "./credential.ts";

/** Longest a single request may take; the call's deadline usually ends it sooner. */
const REQUEST_TIMEOUT_MS = 60_000;

interface Closable {
  close(): Promise<void>;
}

export class ComputeClients {
  private readonly options: ClientOptions;
  private readonly made = new Map<string, Closable>();

  constructor(auth: GcpAuth, endpoint: ComputeEndpoint, universeDomain: string | undefined) {
    this.options = {
      fallback: true,
      apiEndpoint: endpoint.host,
      port: endpoint.port,
      protocol: endpoint.protocol,
      // (gax types the option as a narrower union than google-auth-library exports)
      authClient: auth as ClientOptions["authClient"],
      ...(universeDomain === undefined ? {} : { universeDomain }),
    };
  }

  get instances(): InstancesClient {
    return this.client("instances", () => new InstancesClient(this.options));
  }
  get zoneOperations(): ZoneOperationsClient {
    return this.client("zoneOperations", () => new ZoneOperationsClient(this.options));
  }
  get machineTypes(): MachineTypesClient {
    return this.client("machineTypes", () => new MachineTypesClient(this.options));
  }
  get images(): ImagesClient {
    return this.client("images", () => new ImagesClient(this.options));
  }
  get networks(): NetworksClient {
    return this.client("networks", () => new NetworksClient(this.options));
  }
  get subnetworks(): SubnetworksClient {
    return this.client("subnetworks", () => new SubnetworksClient(this.options));
  }
  get zones(): ZonesClient {
    return this.client("zones", () => new ZonesClient(this.options));
  }
  get disks(): DisksClient {
    return this.client("disks", () => new DisksClient(this.options));
  }

  /** Options for one request: no retries by the library, bounded by the call's signal. */
  call(signal: AbortSignal): CallOptions {
    return { retry: null, timeout: REQUEST_TIMEOUT_MS, signal, autoPaginate: false };
  }

  async close(): Promise<void> {
    const all = [...this.made.values()];
    this.made.clear();
    await Promise.all(all.map((c) => c.close().catch(() => undefined)));
  }

  private client<T extends Closable>(name: string, make: () => T): T {
    let c = this.made.get(name) as T | undefined;
    if (c === undefined) {
      c = make();
      this.made.set(name, c);
    }
    return c;
  }
}
