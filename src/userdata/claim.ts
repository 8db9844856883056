// The claim of a warm-pool VM: what the daemon tells a booted pool VM's forwarder when a pod
// takes it. It travels over mutual TLS on the forwarder's port, told apart from agent traffic by
// its ALPN protocol, as one request and one reply, each a 4-byte big-endian length and JSON.
import type { Socket } from "node:net";
import type { CloudConfigFile } from "./cloud-config.ts";

/** ALPN protocol of claim connections; agent-protocol connections offer none. */
export const CLAIM_ALPN = "caa-claim/1";

/** Largest request or reply accepted: certificates, initdata and a pod network fit with room. */
export const CLAIM_MAX_BYTES = 1 << 20;

/**
 * status: is the forwarder up and still waiting (the pool's readiness probe)?
 * claim: become the forwarder of `sandboxId`. `files` is what a cold VM's user-data writes
 * (the sandbox's forwarder configuration with its TLS material and pod network, initdata, and
 * whatever later features add), written before the forwarder switches over.
 */
export type ClaimRequest =
  | { readonly op: "status" }
  | {
      readonly op: "claim";
      readonly poolVm: string;
      readonly sandboxId: string;
      readonly files: readonly CloudConfigFile[];
    };

/** waiting: unclaimed; claimed: serves `sandboxId`; spent: a claim failed half-way, the VM
 * serves nothing and waits to be deleted. */
export type ClaimState = "waiting" | "claimed" | "spent";

/** agentReady (claim replies only): after the switch the forwarder's own Health check on the
 * agent's socket was answered, so it relays agent connections now and the claimer need not
 * dial again to find out. Absent: the claimer waits for the forwarder as for a cold VM. */
export type ClaimReply =
  | { readonly ok: true; readonly state: ClaimState; readonly sandboxId?: string; readonly agentReady?: true }
  | { readonly ok: false; readonly error: string };

export function encodeClaimMessage(message: ClaimRequest | ClaimReply): Buffer {
  const body = Buffer.from(JSON.stringify(message), "utf8");
  if (body.length > CLAIM_MAX_BYTES)
    throw new Error(`claim message of ${body.length} bytes exceeds ${CLAIM_MAX_BYTES}`);
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length);
  return Buffer.concat([head, body]);
}

/** Reads one message from the socket; rejects on a close, an oversized length or bad JSON. */
export function readClaimMessage(socket: Socket): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    const done = (err: Error | undefined, value?: unknown) => {
      socket.off("data", onData);
      socket.off("end", onEnd);
      socket.off("close", onEnd);
      socket.off("error", onError);
      if (err !== undefined) reject(err);
      else resolve(value);
    };
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length < 4) return;
      const length = buffered.readUInt32BE(0);
      if (length > CLAIM_MAX_BYTES)
        return done(new Error(`claim message of ${length} bytes exceeds ${CLAIM_MAX_BYTES}`));
      if (buffered.length < 4 + length) return;
      try {
        done(undefined, JSON.parse(buffered.subarray(4, 4 + length).toString("utf8")));
      } catch (err) {
        done(new Error(`claim message is not JSON: ${(err as Error).message}`));
      }
    };
    const onEnd = () => done(new Error("connection closed before a whole claim message arrived"));
    const onError = (err: Error) => done(err);
    socket.on("data", onData);
    socket.once("end", onEnd);
    socket.once("close", onEnd);
    socket.once("error", onError);
  });
}

/** Checks a request's shape; throws naming what is wrong. */
export function parseClaimRequest(value: unknown): ClaimRequest {
  const v = value as Record<string, unknown> | null;
  if (v === null || typeof v !== "object") throw new Error("claim request is not an object");
  if (v.op === "status") return { op: "status" };
  if (v.op !== "claim") throw new Error(`claim request: unknown op ${JSON.stringify(v.op)}`);
  if (typeof v.poolVm !== "string" || v.poolVm === "") throw new Error("claim request: poolVm missing");
  if (typeof v.sandboxId !== "string" || v.sandboxId === "") throw new Error("claim request: sandboxId missing");
  if (!Array.isArray(v.files)) throw new Error("claim request: files is not a list");
  const files = v.files.map((f: unknown, i) => {
    const file = f as Record<string, unknown> | null;
    if (file === null || typeof file !== "object" || typeof file.path !== "string" || !file.path.startsWith("/"))
      throw new Error(`claim request: files[${i}] needs an absolute path`);
    if (typeof file.content !== "string") throw new Error(`claim request: files[${i}] (${file.path}) has no content`);
    const permissions = typeof file.permissions === "string" ? file.permissions : "0644";
    if (!/^0?[0-7]{3}$/.test(permissions))
      throw new Error(
        `claim request: files[${i}] (${file.path}) permissions ${JSON.stringify(permissions)} is not an octal mode`,
      );
    return { path: file.path, permissions, content: file.content };
  });
  return { op: "claim", poolVm: v.poolVm, sandboxId: v.sandboxId, files };
}
