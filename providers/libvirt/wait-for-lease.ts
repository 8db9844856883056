// A new VM's address: the network's DHCP lease for the VM's MAC. Polled until it appears,
// the VM stops, the provider's own limit passes, or the call's deadline does.

import { sleep } from "../../src/util/sleep.ts";
import { ProviderError } from "../provider.ts";
import type { DomainRef, LibvirtClient, NetworkRef } from "./rpc/index.ts";

export interface LeaseWait {
  readonly vmName: string;
  readonly mac: string;
  readonly network: NetworkRef;
  readonly domain: DomainRef;
  readonly timeoutMs: number;
  readonly pollMs: number;
  /** Where the operator finds the VM's console, for the error message. */
  readonly consoleHint: string | undefined;
}

export async function waitForLease(client: LibvirtClient, w: LeaseWait, signal: AbortSignal): Promise<string> {
  const deadline = Date.now() + w.timeoutMs;
  for (;;) {
    signal.throwIfAborted();
    const leases = await client.getNetworkDhcpLeases(w.network, w.mac, signal);
    // IPv4 first: the forwarder listens on every address, the daemon dials IPv4 by default.
    const lease = leases.find((l) => l.type === 0) ?? leases[0];
    if (lease !== undefined) return lease.ipAddress;
    if (!(await client.isDomainActive(w.domain, signal))) {
      throw new ProviderError(
        `peer VM ${w.vmName} stopped while booting, before it got an address${w.consoleHint ? ` (console log: ${w.consoleHint})` : ""}`,
        { retryable: true },
      );
    }
    if (Date.now() >= deadline) {
      throw new ProviderError(
        `peer VM ${w.vmName} (MAC ${w.mac}) got no DHCP lease on network ${w.network.name} within ${Math.round(w.timeoutMs / 1000)}s (LIBVIRT_ADDRESS_TIMEOUT): ` +
          `check that the network has DHCP enabled and that the image configures its interface by DHCP${w.consoleHint ? `; console log: ${w.consoleHint}` : ""}`,
        { retryable: false },
      );
    }
    await sleep(Math.min(w.pollMs, Math.max(0, deadline - Date.now())), signal);
  }
}
