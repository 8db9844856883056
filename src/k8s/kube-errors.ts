// What a failed Kubernetes API call means for the caller: try again soon, or report and wait.

import { ApiException } from "@kubernetes/client-node";

/** HTTP status of an API answer, or undefined when no answer came (network, TLS, timeout). */
export function statusOf(err: unknown): number | undefined {
  return err instanceof ApiException ? err.code : undefined;
}

/** Conflicts, throttling, server errors and no answer at all pass with time. */
export function isRetriable(err: unknown): boolean {
  const status = statusOf(err);
  return status === undefined || status === 409 || status === 429 || status >= 500;
}

/** Seconds the API server asked us to wait (429/503 Retry-After), if any. */
export function retryAfterMs(err: unknown): number | undefined {
  if (!(err instanceof ApiException)) return undefined;
  const headers = err.headers as Record<string, string | undefined>;
  const value = Number(headers["retry-after"]);
  return Number.isFinite(value) && value >= 0 ? value * 1000 : undefined;
}

function causeChain(err: unknown): string {
  const parts: string[] = [];
  let current: unknown = err;
  for (let depth = 0; current instanceof Error && depth < 4; depth++) {
    parts.push(current.message);
    current = current.cause;
  }
  return parts.filter((p, i) => p !== "" && parts.indexOf(p) === i).join(": ");
}

// The API server answers errors with a Status object; client-node hands over its text.
function apiMessage(body: unknown): string {
  let parsed: unknown = body;
  if (typeof body === "string") {
    try {
      parsed = JSON.parse(body);
    } catch {
      return body.trim().slice(0, 200); // not a Status: show the start of what came
    }
  }
  const message = (parsed as { message?: unknown } | null | undefined)?.message;
  return typeof message === "string" ? message : "";
}

/** One line for the log: the API's own message for API errors, the network cause otherwise. */
export function describeKubeError(err: unknown): string {
  if (err instanceof ApiException) {
    const message = apiMessage(err.body);
    const hint = err.code === 403 ? " (the service account needs get on nodes and patch on nodes/status)" : "";
    return `HTTP ${err.code}${message === "" ? "" : `: ${message}`}${hint}`;
  }
  return causeChain(err) || String(err);
}
