// Opens connections to a forwarder: TCP, then the TLS handshake unless TLS is disabled.
import net from "node:net";
import tls from "node:tls";
import { sleep } from "../../util/sleep.ts";
import { type ForwarderAddress, formatAddress } from "../forwarder-address.ts";
import { type ProxyTls, tlsConnectOptions } from "../proxy-tls.ts";
import { describeDialError, isTlsRejection } from "./dial-error.ts";

/** A dial that gave up; the message names the address and the last cause. */
export class DialError extends Error {
  readonly address: ForwarderAddress;
  /** The short cause ("ECONNREFUSED", a TLS verification message, ...). */
  readonly reason: string;

  constructor(address: ForwarderAddress, cause: unknown, material?: ProxyTls) {
    const reason = describeDialError(cause, material?.profile);
    super(`peer VM ${formatAddress(address)} not reachable: ${reason}`, { cause });
    this.name = "DialError";
    this.address = address;
    this.reason = reason;
  }
}

export interface RetryOptions {
  /** No new attempt starts after this time (ms since epoch); at least one attempt is made. */
  readonly deadline: number;
  /** Time between the starts of two attempts. */
  readonly retryIntervalMs: number;
  /** Longest one attempt (connect and handshake) may take. */
  readonly attemptTimeoutMs: number;
  readonly signal?: AbortSignal;
}

export class ForwarderDialer {
  private readonly tlsOptions: tls.ConnectionOptions | undefined;
  private readonly material: ProxyTls | undefined;

  constructor(material: ProxyTls | undefined) {
    this.material = material;
    this.tlsOptions = material === undefined ? undefined : tlsConnectOptions(material);
  }

  get usesTls(): boolean {
    return this.tlsOptions !== undefined;
  }

  /** One attempt: resolves with a connected (and, with TLS, verified) socket. */
  dialOnce(target: ForwarderAddress, timeoutMs: number, signal?: AbortSignal): Promise<net.Socket> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const options = this.tlsOptions;
      const socket =
        options === undefined
          ? net.connect({ host: target.host, port: target.port })
          : tls.connect({ ...options, host: target.host, port: target.port });
      const readyEvent = options === undefined ? "connect" : "secureConnect";
      const settle = (err: unknown) => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        socket.off("error", settle);
        socket.off(readyEvent, onReady);
        if (err === undefined) {
          // Small frames (Health.Check, short reads) must not wait for Nagle's algorithm.
          socket.setNoDelay(true);
          resolve(socket);
        } else {
          socket.destroy();
          reject(err);
        }
      };
      const onReady = () => settle(undefined);
      const onAbort = () => settle(signal?.reason);
      const timer = setTimeout(() => settle(new Error(`no connection within ${timeoutMs} ms`)), timeoutMs);
      socket.once("error", settle);
      socket.once(readyEvent, onReady);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /**
   * Attempts until one succeeds, the deadline passes or the TLS handshake is refused (which
   * retrying cannot cure); then rejects with a DialError. An abort rejects with its reason.
   */
  async dial(target: () => ForwarderAddress, o: RetryOptions): Promise<net.Socket> {
    for (;;) {
      const started = Date.now();
      const address = target();
      try {
        return await this.dialOnce(address, o.attemptTimeoutMs, o.signal);
      } catch (err) {
        if (o.signal?.aborted) throw o.signal.reason;
        const next = started + o.retryIntervalMs;
        if (isTlsRejection(err) || next > o.deadline) throw new DialError(address, err, this.material);
        await sleep(Math.max(0, next - Date.now()), o.signal);
      }
    }
  }
}
