// Proof that an agent is live: one grpc.Health/Check on a fresh connection, through a forwarder
// (the daemon's wait) or on the agent's own socket (a claimed pool VM's forwarder). Any answer
// counts, even an error status, since only an agent answers; the connection closing first means
// the agent is not there (yet).
import type { Duplex } from "node:stream";
import { encodeRequestFrame, FrameDecoder, MessageType } from "./raw.ts";

const STREAM_ID = 1;

/** Resolves at the first answer on the probe's stream; rejects if the connection ends first. */
export function probeHealth(socket: Duplex, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const decoder = new FrameDecoder();
    const settle = (err: unknown) => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      socket.off("data", onData);
      socket.off("error", settle);
      socket.off("close", onClose);
      if (err === undefined) resolve();
      else reject(err);
    };
    const sink = {
      frame: (f: { streamId: number; type: number }) => {
        if (f.streamId === STREAM_ID && f.type === MessageType.Response) settle(undefined);
      },
      oversized: (h: { streamId: number }) => {
        if (h.streamId === STREAM_ID) settle(undefined);
      },
    };
    const onData = (chunk: Buffer) => decoder.push(chunk, sink);
    // Seen from here, a forwarder refusing our certificate under TLS 1.3 and one whose agent
    // is not up look the same: the connection just closes.
    const onClose = () =>
      settle(
        new Error(
          "connection closed before the agent answered (no agent behind the forwarder yet, or our certificate refused)",
        ),
      );
    const onAbort = () => settle(signal?.reason);
    const timer = setTimeout(() => settle(new Error(`no answer from the agent within ${timeoutMs} ms`)), timeoutMs);
    socket.on("data", onData);
    socket.once("error", settle);
    socket.once("close", onClose);
    signal?.addEventListener("abort", onAbort, { once: true });
    // CheckRequest{service: ""} encodes to nothing: an empty payload.
    socket.write(
      encodeRequestFrame(STREAM_ID, {
        service: "grpc.Health",
        method: "Check",
        payload: new Uint8Array(0),
        timeoutNano: timeoutMs * 1e6,
        metadata: [],
      }),
    );
  });
}
