// Turns client failures into ProviderErrors an operator can act on: which setting to look at,
// and whether trying again later can help.
import { ProviderError } from "../provider.ts";
import type { VsphereProviderConfig } from "./config.ts";
import { PlacementProblem, PlacementProblems } from "./placement.ts";
import { isFault, VimFault, VimTransportError } from "./vim/index.ts";

// Conditions that pass: a busy object, a host briefly unreachable, capacity freed later.
const RETRYABLE_FAULTS = new Set([
  "TaskInProgress",
  "ResourceInUse",
  "HostCommunication",
  "HostNotConnected",
  "InsufficientResourcesFault",
  "InsufficientHostCapacityFault",
  "InsufficientMemoryResourcesFault",
  "InsufficientCpuResourcesFault",
  "NoDiskSpace",
  "OutOfBounds",
  "SystemError",
]);

export function explainVimError(
  err: unknown,
  what: string,
  config: VsphereProviderConfig,
  signal: AbortSignal,
): ProviderError {
  if (err instanceof ProviderError) return err;
  if (signal.aborted) {
    return new ProviderError(`${what}: deadline reached`, { retryable: true, cause: err });
  }
  if (err instanceof PlacementProblem) return new ProviderError(`${what}: ${err.message}`, { cause: err });
  if (err instanceof PlacementProblems) {
    const lines = err.errors.map((p) => p.message);
    const text = lines.length === 1 ? `${what}: ${lines[0]}` : `${what} failed:\n  ${lines.join("\n  ")}`;
    return new ProviderError(text, { cause: err });
  }
  const where = `vCenter ${config.sdkUrl.origin}`;
  if (isFault(err, "InvalidLogin")) {
    return new ProviderError(
      `${where} refused the login of GOVC_USERNAME=${config.username} (InvalidLogin): check GOVC_USERNAME and GOVC_PASSWORD`,
      { cause: err },
    );
  }
  if (isFault(err, "NoPermission", "NotAuthenticated")) {
    return new ProviderError(
      `${what}: ${err.message}: GOVC_USERNAME=${config.username} lacks a privilege (see the privileges in providers/vsphere/README.md)`,
      { cause: err },
    );
  }
  if (err instanceof VimFault) {
    return new ProviderError(`${what}: ${err.message}`, { retryable: RETRYABLE_FAULTS.has(err.faultName), cause: err });
  }
  if (err instanceof VimTransportError) {
    const pinned = err.cause instanceof Error && err.cause.name === "CertificateMismatchError";
    const tls = pinned || (err.cause instanceof Error && err.cause.name === "TlsHandshakeError");
    const hint = pinned
      ? "; if vCenter's certificate was replaced, set GOVC_THUMBPRINT to the new thumbprint"
      : tls
        ? "; pin the certificate with GOVC_THUMBPRINT (govc about.cert -k -thumbprint prints it) or trust its CA"
        : "; check GOVC_URL and the network path to vCenter";
    // A wrong pin or an untrusted certificate does not fix itself; an unreachable server may.
    return new ProviderError(`${what}: ${err.message}${hint}`, { retryable: !tls, cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new ProviderError(`${what}: ${message}`, { retryable: true, cause: err });
}
