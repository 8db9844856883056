import type { DescMessage, DescMethod, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code } from "./codes.ts";
import { type CallOptions, type ClientOptions, connectUnix, RawClient } from "./raw-client.ts";
import { TtrpcError } from "./ttrpc-error.ts";

export type { CallOptions, ClientOptions };

type UnaryMethod<I extends DescMessage, O extends DescMessage> = DescMethod & {
  input: I;
  output: O;
  methodKind: "unary";
};

/** A ttrpc client with typed calls through generated method descriptors. */
export class Client extends RawClient {
  /** Connects to a Unix socket path. */
  static override connect(
    socketPath: string,
    options: ClientOptions & { connectTimeoutMs?: number } = {},
  ): Promise<Client> {
    return connectUnix(socketPath, options.connectTimeoutMs).then((socket) => new Client(socket, options));
  }

  /** A typed unary call through a generated method descriptor. */
  async call<I extends DescMessage, O extends DescMessage>(
    method: UnaryMethod<I, O>,
    request: MessageInitShape<I>,
    options: CallOptions = {},
  ): Promise<MessageShape<O>> {
    const payload = toBinary(method.input, create(method.input, request));
    const reply = await this.callRaw(method.parent.typeName, method.name, payload, options);
    try {
      return fromBinary(method.output, reply);
    } catch (err) {
      throw new TtrpcError(
        Code.INTERNAL,
        `${method.parent.typeName}/${method.name}: malformed reply: ${(err as Error).message}`,
      );
    }
  }
}
