// The claiming end of the pool-VM claim protocol: one mutual-TLS connection to a pool VM's
// forwarder, dialled with the pool VM's server name and the claim ALPN protocol, one request,
// one reply.
import tls from "node:tls";
import { explainNegotiationFailure, poolVmServerName, type TlsProfile } from "../pki/index.ts";
import {
  CLAIM_ALPN,
  type ClaimReply,
  type ClaimRequest,
  encodeClaimMessage,
  readClaimMessage,
} from "../userdata/index.ts";

/** The daemon's client certificate and the CA the VMs' certificates chain to (PEM). */
export interface ClaimClientTls {
  readonly caPem: string;
  readonly certPem: string;
  readonly keyPem: string;
  /** TLS_MIN_VERSION and TLS_CIPHER_SUITES, as for the agent link; default TLS 1.2, Node's ciphers. */
  readonly profile?: TlsProfile | undefined;
}

export interface ClaimTarget {
  readonly host: string;
  readonly port: number;
  /** The pool VM's name: its certificate must carry poolVmServerName(poolVm). */
  readonly poolVm: string;
}

/** Sends one request; resolves with the forwarder's reply, rejects when no reply came (the
 * connection failed, the certificate did not name the pool VM, the signal aborted). */
export function sendClaimRequest(
  target: ClaimTarget,
  request: ClaimRequest,
  material: ClaimClientTls,
  signal: AbortSignal,
): Promise<ClaimReply> {
  signal.throwIfAborted();
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: target.host,
      port: target.port,
      ca: material.caPem,
      cert: material.certPem,
      key: material.keyPem,
      minVersion: material.profile?.minVersion ?? "TLSv1.2",
      ...(material.profile?.ciphers === undefined ? {} : { ciphers: material.profile.ciphers }),
      servername: poolVmServerName(target.poolVm),
      ALPNProtocols: [CLAIM_ALPN],
      rejectUnauthorized: true,
    });
    const onAbort = () => socket.destroy(signal.reason instanceof Error ? signal.reason : new Error("claim aborted"));
    signal.addEventListener("abort", onAbort, { once: true });
    const finish = (err: Error | undefined, reply?: ClaimReply) => {
      signal.removeEventListener("abort", onAbort);
      socket.destroy();
      if (err !== undefined) reject(err);
      else resolve(reply!);
    };
    socket.once("error", (err: NodeJS.ErrnoException) => {
      // A handshake refused over version or cipher names the profile that made it so.
      const why = explainNegotiationFailure(err.code, material.profile);
      const text = why === undefined ? err.message : `${err.message}: ${why}`;
      finish(new Error(`pool VM ${target.poolVm} at ${target.host}:${target.port}: ${text}`, { cause: err }));
    });
    socket.once("secureConnect", () => {
      if (socket.alpnProtocol !== CLAIM_ALPN)
        return finish(
          new Error(
            `pool VM ${target.poolVm} at ${target.host}:${target.port} does not take claims (no ${CLAIM_ALPN})`,
          ),
        );
      socket.setNoDelay(true);
      readClaimMessage(socket).then(
        (raw) => finish(undefined, parseReply(raw)),
        (err: Error) =>
          finish(
            new Error(`pool VM ${target.poolVm} at ${target.host}:${target.port}: ${err.message}`, { cause: err }),
          ),
      );
      socket.write(encodeClaimMessage(request));
    });
  });
}

function parseReply(raw: unknown): ClaimReply {
  const r = raw as Record<string, unknown> | null;
  if (r === null || typeof r !== "object" || typeof r.ok !== "boolean") throw new Error("claim reply is not {ok: ...}");
  if (!r.ok) return { ok: false, error: typeof r.error === "string" ? r.error : "refused" };
  if (r.state !== "waiting" && r.state !== "claimed" && r.state !== "spent")
    throw new Error(`claim reply: unknown state ${JSON.stringify(r.state)}`);
  return {
    ok: true,
    state: r.state,
    ...(typeof r.sandboxId === "string" ? { sandboxId: r.sandboxId } : {}),
    ...(r.agentReady === true ? { agentReady: true as const } : {}),
  };
}
