// The relay's control socket carries two kinds of connection, both opened by the control plane
// (so the control plane listens on nothing and the relay owns every socket). The first line
// says which: on a "control" connection the control plane calls the relay (RelayControl); on a
// "hypervisor" connection the roles turn around and the relay sends the control plane the
// Hypervisor calls the shims made.
import type net from "node:net";

export const CONTROL_PREFACE = "peerpod-relay control v1\n";
export const HYPERVISOR_PREFACE = "peerpod-relay hypervisor v1\n";

export type ConnectionKind = "control" | "hypervisor";

const MAX_PREFACE = 64;

/**
 * Reads the first line of a connection and says what kind it is; bytes after the line are put
 * back for whoever serves the connection next. Rejects on anything else, on close, or after
 * `timeoutMs`.
 */
export function readPreface(socket: net.Socket, timeoutMs: number): Promise<ConnectionKind> {
  return new Promise((resolve, reject) => {
    let seen = Buffer.alloc(0);
    const done = (err: Error | undefined, kind?: ConnectionKind) => {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("close", onClose);
      socket.pause();
      if (err !== undefined) reject(err);
      else resolve(kind!);
    };
    const onData = (chunk: Buffer) => {
      seen = Buffer.concat([seen, chunk]);
      const nl = seen.indexOf(0x0a);
      if (nl < 0) {
        if (seen.length > MAX_PREFACE) done(new Error("no preface line in the first 64 bytes"));
        return;
      }
      const line = seen.subarray(0, nl + 1).toString("latin1");
      const rest = seen.subarray(nl + 1);
      const kind = line === CONTROL_PREFACE ? "control" : line === HYPERVISOR_PREFACE ? "hypervisor" : undefined;
      if (kind === undefined) return done(new Error(`unknown preface ${JSON.stringify(line.slice(0, MAX_PREFACE))}`));
      // Stop listening first: bytes put back must reach the next owner, not this listener.
      done(undefined, kind);
      if (rest.length > 0) socket.unshift(rest);
    };
    const onClose = () => done(new Error("closed before its preface"));
    const timer = setTimeout(() => done(new Error(`no preface within ${timeoutMs} ms`)), timeoutMs);
    socket.on("data", onData);
    socket.once("close", onClose);
  });
}
