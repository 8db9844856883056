// The ttrpc.test.Echo service on our Server, with the semantics of the Go peer's server
// (test/go-peer/server.go): the same tests and benchmarks can then run against either.
import type { GenService } from "@bufbuild/protobuf/codegenv2";
import type { ServiceImpl } from "../../src/ttrpc/index.ts";
import { TtrpcError } from "../../src/ttrpc/index.ts";
import { Echo } from "./gen/test/echo_pb.js";

type EchoMethods = typeof Echo extends GenService<infer S> ? S : never;

/** Waits ms, or rejects with the signal's reason as soon as it aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Echo sleeps sleep_ms (cut short when the call's deadline passes: the server then answers
 * DEADLINE_EXCEEDED itself), fails with fail_code/fail_message when fail_code is set, and
 * otherwise answers the data, the whole milliseconds left before the deadline (0 without one)
 * and the first value of each metadata key.
 */
export const echoHandlers: ServiceImpl<EchoMethods> = {
  echo: async (req, ctx) => {
    if (req.sleepMs > 0n) await sleep(Number(req.sleepMs), ctx.signal);
    if (req.failCode !== 0) throw new TtrpcError(req.failCode, req.failMessage);
    // fromEntries makes own properties: no key can reach the prototype.
    const metadata = Object.fromEntries(
      [...ctx.metadata].flatMap(([key, values]) => (values.length > 0 ? [[key, values[0]!]] : [])),
    );
    // Truncated toward zero, as Go's Duration.Milliseconds() does.
    const remaining = ctx.deadline === undefined ? 0n : BigInt(Math.trunc(ctx.deadline - Date.now()));
    return { data: req.data, deadlineRemainingMs: remaining, metadata };
  },
};

export { Echo };
