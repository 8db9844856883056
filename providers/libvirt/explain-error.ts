// Turns what the libvirt client throws into ProviderErrors an operator can act on: which
// step failed, libvirt's own message, and whether trying again later can help.
import { ProviderError } from "../provider.ts";
import { ErrorCode, LibvirtConnectionError, LibvirtError } from "./rpc/index.ts";

// Failures that come and go (a busy host, a daemon restarting).
const TRANSIENT: ReadonlySet<number> = new Set([
  ErrorCode.operationTimeout,
  ErrorCode.rpc,
  ErrorCode.systemError,
  ErrorCode.internal,
  ErrorCode.operationFailed,
]);

export function explainLibvirtError(err: unknown, action: string, signal?: AbortSignal): unknown {
  if (err instanceof ProviderError) return err;
  // The caller's deadline or cancellation travels unchanged.
  if (signal?.aborted && err === signal.reason) return err;
  if (err instanceof LibvirtConnectionError)
    return new ProviderError(`${action}: ${err.message}`, { retryable: true, cause: err });
  if (err instanceof LibvirtError)
    return new ProviderError(`${action}: ${err.message} (libvirt error ${err.code})`, {
      retryable: TRANSIENT.has(err.code),
      cause: err,
    });
  return err;
}
