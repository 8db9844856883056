import type { CallContext } from "./call-context.ts";
import { Code } from "./codes.ts";
import { TtrpcError } from "./ttrpc-error.ts";

/** A handler on raw payload bytes: what the server dispatches to. */
export type RawHandler = (payload: Uint8Array, ctx: CallContext) => Promise<Uint8Array> | Uint8Array;

/** The wire name of a method: "<package>.<Service>/<Method>". */
export function methodPath(service: string, method: string): string {
  return `${service}/${method}`;
}

/** Registered services; lookup is one map access per call. */
export class ServiceRegistry {
  private readonly handlers = new Map<string, RawHandler>();
  private readonly services = new Set<string>();

  registerRaw(service: string, method: string, handler: RawHandler): void {
    const path = methodPath(service, method);
    if (this.handlers.has(path)) throw new Error(`ttrpc: ${path} is registered twice`);
    this.services.add(service);
    this.handlers.set(path, handler);
  }

  /** Makes the service known, so its unregistered methods answer "not implemented". */
  addService(service: string): void {
    this.services.add(service);
  }

  lookup(service: string, method: string): RawHandler | TtrpcError {
    const handler = this.handlers.get(methodPath(service, method));
    if (handler !== undefined) return handler;
    if (!this.services.has(service)) return new TtrpcError(Code.UNIMPLEMENTED, `service ${service} is not served here`);
    return new TtrpcError(Code.UNIMPLEMENTED, `method ${service}/${method} is not implemented`);
  }
}
