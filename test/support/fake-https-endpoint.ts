// What the fake cloud endpoints (fake-arm.ts, fake-gce.ts) share beneath their APIs: an HTTPS
// server on loopback with a certificate from a throwaway CA, request bodies read whole, a log of
// the requests, faults injected by rule and used up by count, connections dropped without an
// answer, and a stateful model that may still be busy after the answer.
import type { IncomingMessage, ServerResponse } from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { TestCa } from "./test-certs.ts";

export interface HttpsEndpoint {
  readonly server: https.Server;
  /** https://127.0.0.1:PORT */
  readonly url: string;
  /** The throwaway CA that signed the server's certificate, for clients to trust. */
  readonly caPem: string;
}

/** Listens on a free port of 127.0.0.1, with a certificate for `commonName` from a new CA named `caName`. */
export async function listenHttps(caName: string, commonName: string): Promise<HttpsEndpoint> {
  const ca = await TestCa.create(caName);
  const tls = await ca.issueServer({ commonName, dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] });
  const server = https.createServer({ cert: tls.cert, key: tls.key });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  return { server, url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, caPem: ca.pem };
}

/** Hands each request with its whole body, as text, to `handle`; what it throws goes to `onError`. */
function serveWholeRequests(
  server: https.Server,
  handle: (req: IncomingMessage, res: ServerResponse, text: string) => Promise<void>,
  onError: (err: unknown, res: ServerResponse) => void,
): void {
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      handle(req, res, Buffer.concat(chunks).toString("utf8")).catch((err: unknown) => onError(err, res));
    });
  });
}

/** Ends the open connections too, so a client still polling does not hold the close up. */
async function closeHttps(server: https.Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** The path's segments, percent-decoded, without empty ones. */
export function pathSegments(url: URL): string[] {
  return url.pathname
    .split("/")
    .filter((s) => s !== "")
    .map((s) => decodeURIComponent(s));
}

/** Closes the request's connection without an answer, and records it so. */
export function dropConnection(res: ServerResponse, record: { status: number | "dropped" }): void {
  record.status = "dropped";
  res.socket?.destroy();
}

/** The faults of the connection, whatever the API: each fake's FaultAction includes them. */
export type ConnectionFault =
  /** The connection closes before the request is read: nothing happened. */
  | { readonly kind: "drop" }
  /** The request takes effect, then the connection closes without an answer. */
  | { readonly kind: "drop-after-accept" };

/** What a fake's FaultRule adds to what it matches. */
export interface InjectedFault<Action> {
  readonly action: Action;
  /** How many matching requests it hits; default 1. */
  readonly times?: number;
}

export interface FaultHandle {
  /** Requests this fault hit so far. */
  readonly hits: number;
}

/**
 * The faults a test injected: each hits the first `times` (default 1) requests it matches, the
 * earliest injected first.
 */
export class FaultBook<Rule extends InjectedFault<unknown>> {
  private readonly active: { readonly rule: Rule; left: number; hits: number }[] = [];

  inject(rule: Rule): FaultHandle {
    const fault = { rule, left: rule.times ?? 1, hits: 0 };
    this.active.push(fault);
    return {
      get hits() {
        return fault.hits;
      },
    };
  }

  /** Drops every fault not yet used up. */
  clear(): void {
    this.active.length = 0;
  }

  /** The action of the first fault left that `matches` accepts, using one of its hits. */
  take(matches: (rule: Rule) => boolean): Rule["action"] | undefined {
    for (const f of this.active) {
      if (f.left <= 0 || !matches(f.rule)) continue;
      f.left--;
      f.hits++;
      return f.rule.action;
    }
    return undefined;
  }
}

/** The fake's state, as the endpoint needs it. */
export interface EndpointModel {
  /** Errors of work the model did after answering (no request left to fail with them). */
  readonly backgroundErrors: string[];
  /** Waits until no long-running operation is in progress. */
  idle(timeoutMs?: number): Promise<void>;
  close(): void;
}

/** A fake cloud API over HTTPS: subclasses speak the API; this holds the server, log and faults. */
export abstract class FakeHttpsEndpoint<
  Rule extends InjectedFault<unknown>,
  Logged extends { status: number | "dropped" },
  Model extends EndpointModel,
> {
  readonly url: string;
  readonly caPem: string;
  readonly model: Model;
  /** Every request, in order of arrival, with the status it was answered. */
  readonly requests: Logged[] = [];
  protected readonly faults = new FaultBook<Rule>();
  private readonly server: https.Server;

  protected constructor(endpoint: HttpsEndpoint, model: Model) {
    this.server = endpoint.server;
    this.url = endpoint.url;
    this.caPem = endpoint.caPem;
    this.model = model;
    serveWholeRequests(
      endpoint.server,
      (req, res, text) => this.handle(req, res, text),
      (err, res) => {
        this.model.backgroundErrors.push(`handler: ${String(err)}`);
        if (!res.headersSent) this.answerBroken(res, err);
      },
    );
  }

  /** Answers one request, its body read whole. */
  protected abstract handle(req: IncomingMessage, res: ServerResponse, text: string): Promise<void>;

  /** Answers 500 for a request whose handling threw. */
  protected abstract answerBroken(res: ServerResponse, err: unknown): void;

  inject(rule: Rule): FaultHandle {
    return this.faults.inject(rule);
  }

  /** Drops every fault not yet used up. */
  clearFaults(): void {
    this.faults.clear();
  }

  /** Waits until no long-running operation is in progress. */
  idle(timeoutMs?: number): Promise<void> {
    return this.model.idle(timeoutMs);
  }

  async close(): Promise<void> {
    this.model.close();
    await closeHttps(this.server);
  }
}
