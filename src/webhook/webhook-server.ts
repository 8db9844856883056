// The HTTPS endpoint the API server calls: POST /mutate-v1-pod with an AdmissionReview, plus
// /healthz for probes. Bad requests get an HTTP error with a one-line reason; no input can
// stop the server. The certificate is reloaded from its files when they change.

import type { IncomingMessage, ServerResponse } from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import { DEFAULT_TLS_PROFILE, type TlsProfile } from "../pki/tls-profile.ts";
import { type AdmissionPolicy, admit } from "./admission-policy.ts";
import { AdmissionReviewError, readAdmissionReview } from "./admission-review.ts";
import { BodyTooLargeError, readBody } from "./request-body.ts";
import { readTlsPair, watchTlsPair } from "./tls-files.ts";

export const MUTATE_PATH = "/mutate-v1-pod";

// The API server caps request objects at 3 MiB; the review wraps one object (twice for updates).
const BODY_LIMIT_BYTES = 8 * 1024 * 1024;

export interface WebhookServerOptions {
  readonly port: number;
  readonly host?: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly tlsPollIntervalMs: number;
  /** TLS_MIN_VERSION / TLS_CIPHER_SUITES for the API server's side; default TLS 1.2, Node's suites. */
  readonly tlsProfile?: TlsProfile;
  readonly policy: AdmissionPolicy;
  readonly logger: Logger;
}

export interface WebhookServer {
  readonly port: number;
  close(): Promise<void>;
}

class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { "content-type": type, "cache-control": "no-store" });
  res.end(body);
}

async function handleMutate(o: WebhookServerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== "POST") throw new HttpError(405, `${MUTATE_PATH} takes POST`);
  const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
  if (type !== "application/json")
    throw new HttpError(415, `content-type must be application/json, not ${JSON.stringify(type)}`);
  let body: unknown;
  try {
    body = JSON.parse((await readBody(req, BODY_LIMIT_BYTES)).toString("utf8"));
  } catch (err) {
    if (err instanceof BodyTooLargeError) throw new HttpError(413, err.message);
    if (err instanceof SyntaxError) throw new HttpError(400, `the body is not JSON: ${err.message}`);
    throw err;
  }
  let request;
  try {
    request = readAdmissionReview(body);
  } catch (err) {
    if (err instanceof AdmissionReviewError) throw new HttpError(400, err.message);
    throw err;
  }
  const decision = admit(request, o.policy);
  const fields = {
    uid: request.uid,
    namespace: request.namespace,
    pod: request.name,
    outcome: decision.outcome,
    reason: decision.reason,
  };
  if (decision.outcome === "mutated") o.logger.info(fields, "peer pod admitted");
  else if (decision.outcome === "denied") o.logger.warn(fields, "pod denied");
  else o.logger.debug(fields, "pod allowed unchanged");
  send(res, 200, "application/json", JSON.stringify(decision.review));
}

async function handle(o: WebhookServerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = new URL(req.url ?? "/", "https://localhost").pathname;
  if (path === MUTATE_PATH) return handleMutate(o, req, res);
  if (path === "/healthz" || path === "/readyz") {
    if (req.method !== "GET" && req.method !== "HEAD") throw new HttpError(405, `${path} takes GET`);
    return send(res, 200, "text/plain", "ok\n");
  }
  throw new HttpError(404, `no such path ${path}; the webhook serves POST ${MUTATE_PATH}`);
}

export async function startWebhookServer(o: WebhookServerOptions): Promise<WebhookServer> {
  const pair = await readTlsPair(o.certFile, o.keyFile);
  const profile = o.tlsProfile ?? DEFAULT_TLS_PROFILE;
  const tlsOptions = {
    minVersion: profile.minVersion,
    ...(profile.ciphers === undefined ? {} : { ciphers: profile.ciphers }),
  };
  const server = https.createServer({ cert: pair.cert, key: pair.key, ...tlsOptions }, (req, res) => {
    handle(o, req, res).catch((err: unknown) => {
      const status = err instanceof HttpError ? err.status : 500;
      const message = err instanceof Error ? err.message : String(err);
      if (status === 500) o.logger.error({ err: message }, "request failed");
      if (res.headersSent) res.destroy();
      // The request may not have been read to its end: close instead of reading the rest.
      else {
        res.setHeader("connection", "close");
        send(res, status, "application/json", `${JSON.stringify({ error: message })}\n`);
      }
    });
  });
  server.on("tlsClientError", (err) => o.logger.debug({ err: err.message }, "TLS handshake failed"));
  server.keepAliveTimeout = 30_000;
  const tlsWatch = watchTlsPair({
    certFile: o.certFile,
    keyFile: o.keyFile,
    current: pair,
    pollIntervalMs: o.tlsPollIntervalMs,
    onChange: (next) => {
      server.setSecureContext({ cert: next.cert, key: next.key, ...tlsOptions });
      o.logger.info({ certFile: o.certFile }, "serving the renewed TLS certificate");
    },
    onError: (err) => o.logger.warn({ err: err.message }, "keeping the previous TLS certificate"),
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(o.port, o.host ?? "0.0.0.0", () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (err) {
    tlsWatch.close();
    throw err;
  }
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        tlsWatch.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
