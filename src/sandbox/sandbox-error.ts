/** Failure kinds the Hypervisor service maps to ttrpc status codes. */
export type SandboxErrorKind =
  | "invalid-argument"
  | "not-found"
  | "exhausted"
  | "failed-precondition"
  | "unavailable"
  | "deadline"
  | "cancelled"
  | "internal";

export class SandboxError extends Error {
  readonly kind: SandboxErrorKind;
  constructor(kind: SandboxErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "SandboxError";
    this.kind = kind;
  }
}
