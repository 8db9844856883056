// StartVM waits here until the peer VM's forwarder relays to a live agent: only then is the
// agent socket handed to the shim, whose CreateSandbox would otherwise fail.

import { probeHealth } from "../ttrpc/health-probe.ts";
import { sleep } from "../util/sleep.ts";
import { type ForwarderAddress, formatAddress } from "./forwarder-address.ts";
import { describeDialError, isTlsRejection } from "./private/dial-error.ts";
import { ForwarderDialer } from "./private/forwarder-dialer.ts";
import type { ProxyTls } from "./proxy-tls.ts";

export interface WaitForForwarderOptions extends ForwarderAddress {
  readonly tls: ProxyTls | undefined;
  /** Ends the wait; its abort makes the call throw. */
  readonly signal: AbortSignal;
  /** Time between the starts of two attempts; default 100 ms. */
  readonly retryIntervalMs?: number;
  /** Longest one attempt (connect, handshake, Health.Check) may take; default 5 s. */
  readonly attemptTimeoutMs?: number;
}

/**
 * Resolves once a connection to the forwarder succeeds and a grpc.Health/Check through it gets
 * an answer. Refused or failed attempts are retried until the signal aborts; the error thrown
 * then names the address, the time waited and the last failure, e.g.
 * "peer VM 10.0.0.7:15150 not reachable after 5m0s: ECONNREFUSED". A TLS handshake refused by
 * either side fails at once: waiting longer would not change a certificate.
 */
export async function waitForForwarder(o: WaitForForwarderOptions): Promise<void> {
  const dialer = new ForwarderDialer(o.tls);
  const address = { host: o.host, port: o.port };
  const interval = o.retryIntervalMs ?? 100;
  const attemptTimeoutMs = o.attemptTimeoutMs ?? 5000;
  const started = Date.now();
  let last = "no attempt was made";
  while (!o.signal.aborted) {
    const attemptStarted = Date.now();
    try {
      const socket = await dialer.dialOnce(address, attemptTimeoutMs, o.signal);
      try {
        await probeHealth(socket, attemptTimeoutMs, o.signal);
        return;
      } finally {
        socket.destroy();
      }
    } catch (err) {
      if (o.signal.aborted) break;
      last = describeDialError(err, o.tls?.profile);
      if (isTlsRejection(err))
        throw new Error(`peer VM ${formatAddress(address)}: TLS handshake failed: ${last}`, { cause: err });
    }
    // An abort cuts the pause short; the loop condition then ends the wait with the message below.
    await sleep(Math.max(0, attemptStarted + interval - Date.now()), o.signal).catch(() => undefined);
  }
  throw new Error(
    `peer VM ${formatAddress(address)} not reachable after ${formatElapsed(Date.now() - started)}: ${last}`,
    { cause: o.signal.reason },
  );
}

/** Go-style duration text, to the second past a minute: "850ms", "12.3s", "5m0s". */
function formatElapsed(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(Math.round(ms / 100) / 10).toString()}s`;
  const seconds = Math.round(ms / 1000);
  return `${Math.floor(seconds / 60)}m${seconds % 60}s`;
}
