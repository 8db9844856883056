// The durable record of one sandbox: everything needed to finish, undo or serve it again after
// the daemon restarts.
import type { PodNetwork } from "../userdata/index.ts";

/**
 * created   CreateVM recorded the sandbox; no VM yet.
 * starting  the VM's name and token are recorded; the provider may be creating it.
 * running   the VM answers; the agent proxy serves the pod's socket.
 * failed    StartVM failed and was rolled back; StopVM removes the record.
 * stopping  StopVM began; the VM may still exist.
 */
export type SandboxState = "created" | "starting" | "running" | "failed" | "stopping";

/** What the provider answered for a VM it made; set once it returned. */
export interface ProvidedVm {
  readonly id?: string | undefined;
  readonly address?: string | undefined;
  readonly instanceType?: string | undefined;
}

export interface VmRecord extends ProvidedVm {
  readonly name: string;
  readonly token: string;
  /** A warm-pool VM this sandbox claimed: its marks name the pool (POOL_SANDBOX_MARK), not the
   * sandbox, and it is deleted with exactly those. */
  readonly pool?: boolean | undefined;
}

export interface TunnelRecord {
  readonly vni: number;
  readonly state: "pending" | "up" | "down";
  /** The pod's network as read from its namespace (what the VM end was given). */
  readonly network?: PodNetwork | undefined;
}

export interface SandboxRecord {
  readonly version: 1;
  readonly id: string;
  readonly state: SandboxState;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly annotations: Readonly<Record<string, string>>;
  readonly networkNamespacePath: string;
  readonly agentSocketPath: string;
  readonly vm?: VmRecord | undefined;
  readonly tunnel?: TunnelRecord | undefined;
  /** StartVM attempts so far; each gets its own VM token. */
  readonly attempt?: number | undefined;
  /** Why the last StartVM failed, for operators. */
  readonly error?: string | undefined;
}

/** Sandbox ids are used in file and VM names: keep them to what Kata generates (hex, dashes). */
export const SANDBOX_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
