import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import { RawServer, type ServerOptions } from "./raw-server.ts";
import { registerService, type ServiceImpl } from "./typed-service.ts";

export type { ServerOptions };

/** A ttrpc server that also takes handlers for generated services. */
export class Server extends RawServer {
  /** Handlers for a generated service; methods not given answer UNIMPLEMENTED. */
  register<S extends GenServiceMethods>(service: GenService<S>, impl: ServiceImpl<S>): this {
    registerService(this.registry, service, impl);
    return this;
  }
}
