// How the SDK endpoint's certificate is trusted. fetch cannot pin a certificate, so requests go
// through node:https with an agent per mode:
//  - verify: the usual chain check against Node's bundled CAs plus the system store (where
//    operators install their VMCA root);
//  - pin: any chain, but the certificate's SHA-1 or SHA-256 thumbprint must equal the pinned
//    one, checked before a request is written on the connection;
//  - insecure: no check at all (the caller warns).
import * as http from "node:http";
import * as https from "node:https";
import type { Duplex } from "node:stream";
import * as tls from "node:tls";

export type TlsTrust =
  | { readonly mode: "verify" }
  | { readonly mode: "pin"; readonly thumbprint: string }
  | { readonly mode: "insecure" };

/** Upper-case hex without separators; undefined unless it is 40 (SHA-1) or 64 (SHA-256) digits. */
export function normalizeThumbprint(text: string): string | undefined {
  const hex = text.replace(/[:\s-]/g, "").toUpperCase();
  return /^[0-9A-F]{40}$/.test(hex) || /^[0-9A-F]{64}$/.test(hex) ? hex : undefined;
}

function colons(hex: string): string {
  return hex.replace(/(..)(?!$)/g, "$1:");
}

export class CertificateMismatchError extends Error {
  readonly actualSha1: string;
  constructor(host: string, expected: string, actualSha1: string) {
    super(`the TLS certificate of ${host} has SHA-1 thumbprint ${actualSha1}, not the pinned ${colons(expected)}`);
    this.name = "CertificateMismatchError";
    this.actualSha1 = actualSha1;
  }
}

/** The TCP connection was made but the TLS handshake failed (chain, name, weak key, ...). */
export class TlsHandshakeError extends Error {
  constructor(host: string, cause: Error) {
    super(`TLS handshake with ${host} failed: ${cause.message}`, { cause });
    this.name = "TlsHandshakeError";
  }
}

/** Request option read by the agent: a request's own `signal` does not reach a connection
 * still in its handshake, so a server that accepts and never answers would hang the call. */
export interface ConnectSignalOption {
  readonly connectSignal?: AbortSignal;
}

/**
 * Tells TLS failures from network ones, and with a pin accepts only a certificate with that
 * thumbprint (the chain itself is then not checked). The agent hands the socket to the request
 * only through the callback, so nothing is sent before the certificate has been compared.
 */
class TrustAgent extends https.Agent {
  readonly #pin: string | undefined;

  constructor(options: https.AgentOptions, pin: string | undefined) {
    super(options);
    this.#pin = pin;
  }

  override createConnection(
    options: http.ClientRequestArgs,
    callback?: (err: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    const host = `${options.host ?? "server"}:${options.port ?? 443}`;
    const socket = super.createConnection(options) as tls.TLSSocket;
    const signal = (options as ConnectSignalOption).connectSignal;
    let connected = false;
    let settled = false;
    const settle = (err: Error | null): void => {
      if (settled) return;
      settled = true;
      socket.off("error", onError);
      signal?.removeEventListener("abort", onAbort);
      callback?.(err, socket);
    };
    const onError = (err: Error): void => settle(connected ? new TlsHandshakeError(host, err) : err);
    const onAbort = (): void => {
      socket.destroy();
      settle(signal!.reason instanceof Error ? signal!.reason : new Error("aborted"));
    };
    socket.once("connect", () => (connected = true));
    socket.on("error", onError);
    signal?.addEventListener("abort", onAbort, { once: true });
    socket.once("secureConnect", () => {
      if (this.#pin === undefined) return settle(null);
      const cert = socket.getPeerCertificate();
      const sha1 = (cert.fingerprint ?? "").replace(/:/g, "").toUpperCase();
      const sha256 = (cert.fingerprint256 ?? "").replace(/:/g, "").toUpperCase();
      if (sha1 === this.#pin || sha256 === this.#pin) return settle(null);
      // Destroyed without an error event: the request learns why through the callback.
      socket.destroy();
      settle(new CertificateMismatchError(host, this.#pin, cert.fingerprint ?? "none"));
    });
    return undefined;
  }
}

/** The agent for a URL and trust mode; keep-alive, so one session reuses its connections. */
export function agentFor(url: URL, trust: TlsTrust): http.Agent {
  if (url.protocol === "http:") return new http.Agent({ keepAlive: true });
  switch (trust.mode) {
    case "pin": {
      const pin = normalizeThumbprint(trust.thumbprint);
      if (pin === undefined) throw new Error("a certificate thumbprint is 40 (SHA-1) or 64 (SHA-256) hex digits");
      // No session reuse: every connection shows its certificate again.
      return new TrustAgent({ keepAlive: true, rejectUnauthorized: false, maxCachedSessions: 0 }, pin);
    }
    case "insecure":
      return new TrustAgent({ keepAlive: true, rejectUnauthorized: false }, undefined);
    case "verify":
      return new TrustAgent(
        { keepAlive: true, ca: [...tls.getCACertificates("default"), ...tls.getCACertificates("system")] },
        undefined,
      );
  }
}
