// One HTTP request to a metadata service with its own deadline. Metadata services answer in
// milliseconds; one that does not is treated as absent or broken, never waited on forever.
import http from "node:http";
import { SourceError } from "./source-error.ts";

export interface MetadataRequest {
  readonly method: "GET" | "PUT";
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly timeoutMs: number;
  readonly signal: AbortSignal;
  /** Largest body accepted. */
  readonly maxBytes?: number;
}

export interface MetadataResponse {
  readonly status: number;
  readonly body: Buffer;
}

export function metadataRequest(r: MetadataRequest): Promise<MetadataResponse> {
  const max = r.maxBytes ?? 16 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    const signal = AbortSignal.any([r.signal, AbortSignal.timeout(r.timeoutMs)]);
    const req = http.request(r.url, { method: r.method, headers: r.headers, signal }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (c: Buffer) => {
        size += c.length;
        if (size > max) {
          req.destroy(new SourceError("failed", `${r.method} ${r.url}: answer larger than ${max} bytes`));
          return;
        }
        chunks.push(c);
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on("error", (err) => reject(explain(r, err, signal)));
    });
    req.on("error", (err) => reject(explain(r, err, signal)));
    req.end();
  });
}

function explain(r: MetadataRequest, err: Error, signal: AbortSignal): Error {
  if (err instanceof SourceError) return err;
  if (signal.aborted && !r.signal.aborted)
    return new SourceError("failed", `${r.method} ${r.url}: no answer within ${r.timeoutMs} ms`);
  const code = (err as NodeJS.ErrnoException).code;
  // Nothing listening or no route: this platform has no such metadata service.
  if (code === "ECONNREFUSED" || code === "ENETUNREACH" || code === "EHOSTUNREACH")
    return new SourceError("missing", `${r.method} ${r.url}: ${code}`);
  return new SourceError("failed", `${r.method} ${r.url}: ${err.message}`);
}
