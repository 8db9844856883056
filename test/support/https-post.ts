// One HTTPS request on a fresh connection (so each call makes its own TLS handshake), with the
// CA the test trusts; returns status, headers, body and the certificate the server presented.
import https from "node:https";
import type { PeerCertificate, TLSSocket } from "node:tls";

export interface HttpsReply {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
  readonly peerCertificate: PeerCertificate;
}

export interface HttpsCall {
  readonly port: number;
  readonly path: string;
  readonly ca: string;
  readonly method?: string;
  readonly body?: string | Buffer;
  readonly contentType?: string;
  readonly timeoutMs?: number;
  /** Send the body chunked, without a content-length. */
  readonly chunked?: boolean;
}

export function httpsCall(call: HttpsCall): Promise<HttpsReply> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: "127.0.0.1",
        servername: "localhost",
        port: call.port,
        path: call.path,
        method: call.method ?? "POST",
        ca: call.ca,
        agent: false,
        headers:
          call.body === undefined
            ? {}
            : {
                "content-type": call.contentType ?? "application/json",
                ...(call.chunked === true
                  ? { "transfer-encoding": "chunked" }
                  : { "content-length": String(Buffer.byteLength(call.body)) }),
              },
        timeout: call.timeoutMs ?? 5000,
      },
      (res) => {
        const peerCertificate = (res.socket as TLSSocket).getPeerCertificate();
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            contentType: String(res.headers["content-type"] ?? ""),
            body: Buffer.concat(chunks).toString("utf8"),
            peerCertificate,
          }),
        );
      },
    );
    req.on("timeout", () => req.destroy(new Error("request timed out")));
    req.on("error", reject);
    req.end(call.body);
  });
}
