// Typed handlers for generated services, on top of the raw registry. Kept apart so that the
// raw server loads no protobuf runtime.

import type { DescMessage, DescMethod, DescService, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import type { CallContext } from "./call-context.ts";
import { Code } from "./codes.ts";
import type { RawHandler, ServiceRegistry } from "./service-registry.ts";
import { TtrpcError } from "./ttrpc-error.ts";

type UnaryHandler<I extends DescMessage, O extends DescMessage> = (
  request: MessageShape<I>,
  ctx: CallContext,
) => Promise<MessageInitShape<O>> | MessageInitShape<O>;

/** Handlers for a generated service, by the methods' local names (createVM, startVM, ...).
 * Methods left out answer UNIMPLEMENTED naming the method. */
export type ServiceImpl<S extends GenServiceMethods> = {
  [K in keyof S]?: S[K] extends {
    methodKind: "unary";
    input: infer I extends DescMessage;
    output: infer O extends DescMessage;
  }
    ? UnaryHandler<I, O>
    : never;
};

/** Registers a generated service's handlers; methods left out answer UNIMPLEMENTED. */
export function registerService<S extends GenServiceMethods>(
  registry: ServiceRegistry,
  service: GenService<S>,
  impl: ServiceImpl<S>,
): void {
  const desc = service as unknown as DescService;
  registry.addService(desc.typeName);
  for (const m of desc.methods) {
    const fn = (impl as Record<string, UnaryHandler<DescMessage, DescMessage> | undefined>)[m.localName];
    if (fn === undefined) continue;
    if (m.methodKind !== "unary")
      throw new Error(`ttrpc: ${desc.typeName}/${m.name} is ${m.methodKind}; only unary calls are supported`);
    registry.registerRaw(desc.typeName, m.name, unaryAdapter(m, fn));
  }
}

function unaryAdapter(m: DescMethod, fn: UnaryHandler<DescMessage, DescMessage>): RawHandler {
  return async (payload, ctx) => {
    let request: MessageShape<DescMessage>;
    try {
      request = fromBinary(m.input, payload);
    } catch (err) {
      throw new TtrpcError(
        Code.INVALID_ARGUMENT,
        `${m.parent.typeName}/${m.name}: malformed ${m.input.typeName}: ${(err as Error).message}`,
      );
    }
    const response = await fn(request, ctx);
    return toBinary(m.output, create(m.output, response));
  };
}
