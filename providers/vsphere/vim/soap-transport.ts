// One SOAP POST over node:https (see tls-trust.ts for why not fetch), bounded by the caller's
// AbortSignal and by a cap on the answer's size.
import * as http from "node:http";
import * as https from "node:https";
import {
  agentFor,
  CertificateMismatchError,
  type ConnectSignalOption,
  TlsHandshakeError,
  type TlsTrust,
} from "./tls-trust.ts";
import { VimTransportError } from "./vim-fault.ts";

export interface SoapResponse {
  readonly status: number;
  readonly body: string;
  /** Set-Cookie headers of the answer. */
  readonly cookies: readonly string[];
}

const MAX_ANSWER_BYTES = 64 * 1024 * 1024;

export class SoapTransport {
  readonly url: URL;
  readonly #agent: http.Agent;

  constructor(url: URL, trust: TlsTrust) {
    this.url = url;
    this.#agent = agentFor(url, trust);
  }

  post(soapAction: string, body: string, cookie: string | undefined, signal: AbortSignal): Promise<SoapResponse> {
    signal.throwIfAborted();
    const payload = Buffer.from(body, "utf8");
    const headers: http.OutgoingHttpHeaders = {
      "Content-Type": "text/xml; charset=utf-8",
      "Content-Length": payload.length,
      SOAPAction: `"${soapAction}"`,
      Accept: "text/xml",
    };
    if (cookie !== undefined) headers["Cookie"] = cookie;
    const request = this.url.protocol === "http:" ? http.request : https.request;
    return new Promise<SoapResponse>((resolve, reject) => {
      const fail = (err: Error): void => reject(signal.aborted ? (signal.reason ?? err) : this.explain(err));
      const options: https.RequestOptions & ConnectSignalOption = {
        method: "POST",
        headers,
        agent: this.#agent,
        signal,
        connectSignal: signal,
      };
      const req = request(this.url, options, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_ANSWER_BYTES) {
            res.destroy(new VimTransportError(`answer from ${this.url.host} exceeds ${MAX_ANSWER_BYTES} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        res.once("error", fail);
        res.once("end", () => {
          const setCookie = res.headers["set-cookie"] ?? [];
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8"), cookies: setCookie });
        });
      });
      req.once("error", fail);
      req.end(payload);
    });
  }

  close(): void {
    this.#agent.destroy();
  }

  private explain(err: Error): Error {
    if (err instanceof VimTransportError) return err;
    if (err instanceof CertificateMismatchError || err instanceof TlsHandshakeError)
      return new VimTransportError(err.message, { cause: err });
    const code = (err as NodeJS.ErrnoException).code;
    const detail = code !== undefined && !err.message.includes(code) ? ` (${code})` : "";
    return new VimTransportError(`cannot reach ${this.url.origin}: ${err.message}${detail}`, { cause: err });
  }
}
