// What the control plane and the relay say on a control connection: ttrpc calls to the
// RelayControl service with JSON payloads (a local protocol between two binaries of this
// project; JSON keeps the relay free of the protobuf runtime).
import type { TlsProfile } from "../pki/tls-profile.ts";
import { Code, TtrpcError } from "../ttrpc/raw.ts";

export const CONTROL_SERVICE = "peerpod.relay.RelayControl";

/** The Hypervisor service the relay passes on; method names as the Kata shim sends them. */
export const HYPERVISOR_SERVICE = "hypervisor.Hypervisor";
export const HYPERVISOR_METHODS = ["CreateVM", "StartVM", "StopVM", "Version"] as const;

export interface ClientTlsPem {
  readonly caPem: string;
  readonly certPem: string;
  readonly keyPem: string;
  /** TLS_MIN_VERSION / TLS_CIPHER_SUITES as the control plane read them; default TLS 1.2. */
  readonly profile?: TlsProfile;
}

export interface ServeSpec {
  readonly sandboxId: string;
  readonly socketPath: string;
  readonly host: string;
  readonly port: number;
  /** The name the forwarder's certificate must carry; "": only its chain is checked (operator
   * certificates from the VM image name no sandbox) or there is no TLS (DISABLE_TLS). */
  readonly serverName: string;
}

export interface ServedSandbox extends ServeSpec {
  /** Shim connections open now. */
  readonly connections: number;
}

export interface RelayedBytes {
  readonly to_vm: number;
  readonly from_vm: number;
}

/** The calls, each with its request and answer. */
export interface ControlCalls {
  /** Introduces a control plane and its client certificate (null: plaintext, DISABLE_TLS);
   * answers how the relay is configured so a mismatched pair is refused. */
  Hello: [
    { clientTls: ClientTlsPem | null; controlPlane: string },
    { pid: number; version: string; hypervisorSocket: string; podsDir: string; uptimeSeconds: number },
  ];
  /** Serve a sandbox's agent socket; idempotent, a different target replaces the old relay. */
  Serve: [ServeSpec, { changed: boolean }];
  /** Stop serving; the socket answers errors for lingerMs, then goes. Idempotent. */
  Stop: [{ sandboxId: string; lingerMs: number }, { wasServed: boolean }];
  /** What is served, and the bytes relayed each way since the relay started. */
  List: [Record<string, never>, { sandboxes: ServedSandbox[]; bytes: RelayedBytes }];
  /** The control plane is leaving: new Hypervisor calls wait for the next one. */
  Detach: [Record<string, never>, Record<string, never>];
}

export type ControlMethod = keyof ControlCalls;

export function encodeJson(value: unknown): Uint8Array {
  return Buffer.from(JSON.stringify(value));
}

export function decodeJson<T>(bytes: Uint8Array, what: string): T {
  try {
    const v: unknown = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8"));
    if (typeof v !== "object" || v === null) throw new Error("not a JSON object");
    return v as T;
  } catch (err) {
    throw new TtrpcError(Code.INVALID_ARGUMENT, `${what}: malformed payload: ${(err as Error).message}`);
  }
}
