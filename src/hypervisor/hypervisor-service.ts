import { Hypervisor } from "../gen/hypervisor_pb.js";
import { SandboxError, type SandboxErrorKind, type SandboxManager } from "../sandbox/index.ts";
import { Code, type Server, TtrpcError } from "../ttrpc/index.ts";

export const VERSION = "0.1.0";

export interface HypervisorServiceOptions {
  readonly manager: SandboxManager;
  /** Told about every call, for metrics. */
  readonly onCall?: (method: string, code: number, seconds: number) => void;
  /** Bound on StopVM's clean-up; the shim sends StopVM without a deadline. */
  readonly stopTimeoutMs?: number;
}

const CODES: Record<SandboxErrorKind, number> = {
  "invalid-argument": Code.INVALID_ARGUMENT,
  "not-found": Code.NOT_FOUND,
  exhausted: Code.RESOURCE_EXHAUSTED,
  "failed-precondition": Code.FAILED_PRECONDITION,
  unavailable: Code.UNAVAILABLE,
  deadline: Code.DEADLINE_EXCEEDED,
  cancelled: Code.CANCELLED,
  internal: Code.INTERNAL,
};

/** The Hypervisor ttrpc service the Kata shim calls: a thin translation onto the manager. */
export function registerHypervisorService(server: Server, options: HypervisorServiceOptions): void {
  const { manager } = options;
  const timed = async <T>(method: string, fn: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    try {
      const out = await fn();
      options.onCall?.(method, Code.OK, (performance.now() - started) / 1000);
      return out;
    } catch (err) {
      const mapped = toStatus(err);
      options.onCall?.(method, mapped.code, (performance.now() - started) / 1000);
      throw mapped;
    }
  };
  server.register(Hypervisor, {
    version: () => timed("Version", async () => ({ version: VERSION })),
    createVM: (req) =>
      timed("CreateVM", async () => ({
        agentSocketPath: await manager.create(req.id, req.annotations, req.networkNamespacePath),
      })),
    startVM: (req, ctx) =>
      timed("StartVM", async () => {
        await manager.start(req.id, ctx.signal);
        return {};
      }),
    stopVM: (req) =>
      timed("StopVM", async () => {
        // Not the call's signal: a shim that goes away mid-StopVM must not leave a VM behind.
        await manager.stop(req.id, AbortSignal.timeout(options.stopTimeoutMs ?? 300_000));
        return {};
      }),
  });
}

function toStatus(err: unknown): TtrpcError {
  if (err instanceof TtrpcError) return err;
  if (err instanceof SandboxError) return new TtrpcError(CODES[err.kind], err.message, { cause: err });
  return new TtrpcError(Code.INTERNAL, err instanceof Error ? err.message : String(err), { cause: err });
}
