import { fromBinary, toBinary, create } from "@bufbuild/protobuf";
import type { DescMessage, DescMethod, DescService, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import type { CallContext } from "./call-context.ts";
import { Code } from "./codes.ts";
import { TtrpcError } from "./ttrpc-error.ts";

/** A handler on raw payload bytes: what the server dispatches to. */
export type RawHandler = (payload: Uint8Array, ctx: CallContext) => Promise<Uint8Array> | Uint8Array;

type UnaryHandler<I extends DescMessage, O extends DescMessage> = (
  request: MessageShape<I>,
  ctx: CallContext,
) => Promise<MessageInitShape<O>> | MessageInitShape<O>;

/** Handlers for a generated service, by the methods' local names (createVM, startVM, ...).
 * Methods left out answer UNIMPLEMENTED naming the method. */
export type ServiceImpl<S extends GenServiceMethods> = {
  [K in keyof S]?: S[K] extends { methodKind: "unary"; input: infer I extends DescMessage; output: infer O extends DescMessage }
    ? UnaryHandler<I, O>
    : never;
};

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

  register<S extends GenServiceMethods>(service: GenService<S>, impl: ServiceImpl<S>): void {
    const desc = service as unknown as DescService;
    this.services.add(desc.typeName);
    for (const m of desc.methods) {
      const fn = (impl as Record<string, UnaryHandler<DescMessage, DescMessage> | undefined>)[m.localName];
      if (fn === undefined) continue;
      if (m.methodKind !== "unary") throw new Error(`ttrpc: ${desc.typeName}/${m.name} is ${m.methodKind}; only unary calls are supported`);
      this.registerRaw(desc.typeName, m.name, unaryAdapter(m, fn));
    }
  }

  lookup(service: string, method: string): RawHandler | TtrpcError {
    const handler = this.handlers.get(methodPath(service, method));
    if (handler !== undefined) return handler;
    if (!this.services.has(service)) return new TtrpcError(Code.UNIMPLEMENTED, `service ${service} is not served here`);
    return new TtrpcError(Code.UNIMPLEMENTED, `method ${service}/${method} is not implemented`);
  }
}

function unaryAdapter(m: DescMethod, fn: UnaryHandler<DescMessage, DescMessage>): RawHandler {
  return async (payload, ctx) => {
    let request: MessageShape<DescMessage>;
    try {
      request = fromBinary(m.input, payload);
    } catch (err) {
      throw new TtrpcError(Code.INVALID_ARGUMENT, `${m.parent.typeName}/${m.name}: malformed ${m.input.typeName}: ${(err as Error).message}`);
    }
    const response = await fn(request, ctx);
    return toBinary(m.output, create(m.output, response));
  };
}
