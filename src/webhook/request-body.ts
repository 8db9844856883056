// Reads a request body up to a limit, so an oversized or endless upload cannot exhaust memory.
// Past the limit the rest is left unread (not destroyed), so the caller can still answer 413
// before closing the connection.

import type { IncomingMessage } from "node:http";

export class BodyTooLargeError extends Error {
  override readonly name = "BodyTooLargeError";
}

export function readBody(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? NaN);
  if (declared > limitBytes)
    return Promise.reject(new BodyTooLargeError(`body of ${declared} bytes exceeds the ${limitBytes}-byte limit`));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (err: Error | undefined) => {
      if (settled) return;
      settled = true;
      req.off("data", onData);
      if (err === undefined) resolve(Buffer.concat(chunks));
      else {
        req.pause();
        reject(err);
      }
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limitBytes) finish(new BodyTooLargeError(`body exceeds the ${limitBytes}-byte limit`));
      else chunks.push(chunk);
    };
    req.on("data", onData);
    req.once("end", () => finish(undefined));
    req.once("error", (err) => finish(err));
    req.once("close", () => finish(new Error("the client closed the connection before the body was complete")));
  });
}
