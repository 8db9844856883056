// Waiting for a zonal operation (insert, delete) to finish, within the call's deadline. The
// wait method blocks on the server until the operation is DONE or a while has passed, so a
// loop of waits costs few requests; each is retried by the provider, never by the client.
import type { protos } from "@google-cloud/compute";
import type { Logger } from "pino";
import type { ComputeClients } from "./compute-clients.ts";
import { OperationError } from "./gce-error.ts";
import { type RetryTuning, withRetries } from "./retry.ts";

type Operation = protos.google.cloud.compute.v1.IOperation;

export async function waitForOperation(
  clients: ComputeClients,
  project: string,
  zone: string,
  started: Operation,
  tuning: RetryTuning,
  logger: Logger,
  signal: AbortSignal,
): Promise<Operation> {
  let op = started;
  const name = op.name;
  if (typeof name !== "string" || name === "") throw new Error("Compute Engine answered without an operation name");
  while (op.status !== "DONE") {
    const [next] = await withRetries(
      `waiting for operation ${name}`,
      () => clients.zoneOperations.wait({ project, zone, operation: name }, clients.call(signal)),
      tuning,
      logger,
      signal,
    );
    op = next;
  }
  const errors = op.error?.errors ?? [];
  if (errors.length > 0) {
    const codes = errors.map((e) => e.code ?? "UNKNOWN");
    const message = errors.map((e) => e.message ?? e.code ?? "").join("; ");
    throw new OperationError(codes, message, op.httpErrorStatusCode ?? undefined);
  }
  return op;
}
