// Advertises how many peer pods this node takes: the extended resource kata.peerpods.io/vm in
// the node's status capacity, set to PEERPODS_LIMIT_PER_NODE at start-up and checked again
// periodically (a node object re-created by the kubelet loses it). The scheduler then places at
// most that many peer pods here, since the webhook makes each take one.
//
// Without a reachable Kubernetes API this is a warning, never a failure: the daemon also runs
// outside clusters. Conflicts, throttling and server errors are retried within a round; other
// errors (403, 404) wait for the next round.

import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { PEERPOD_VM_RESOURCE } from "../webhook/peer-pod-names.ts";
import { describeKubeError, isRetriable, retryAfterMs } from "./kube-errors.ts";
import { withSignal } from "./request-options.ts";

export type CapacityOutcome = "set" | "unchanged" | "failed" | "disabled";

export interface CapacityRound {
  readonly outcome: CapacityOutcome;
  /** Why, for "failed" and "disabled". */
  readonly reason?: string;
}

export interface NodeCapacityOptions {
  readonly nodeName: string;
  readonly limit: number;
  /** How the API is reached; undefined means no cluster (the module only warns once). */
  readonly kubeConfig: KubeConfig | undefined;
  readonly logger: Logger;
  /** Between rounds; default 60 s. */
  readonly intervalMs?: number;
  /** Attempts per round for retriable errors; default 4. */
  readonly attempts?: number;
  /** First back-off between attempts, doubled each time; default 500 ms. */
  readonly backoffMs?: number;
  /** Per-request deadline; default 10 s. */
  readonly requestTimeoutMs?: number;
}

export interface NodeCapacity {
  /** Settles when the first round is over, whatever its outcome (it never rejects). */
  readonly firstRound: Promise<CapacityRound>;
  /** Runs a round now (tests, and a nudge after the API comes back). */
  refresh(): Promise<CapacityRound>;
  stop(): Promise<void>;
}

const MAX_RETRY_AFTER_MS = 10_000;

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

export function startNodeCapacity(options: NodeCapacityOptions): NodeCapacity {
  const intervalMs = options.intervalMs ?? 60_000;
  const attempts = options.attempts ?? 4;
  const backoffMs = options.backoffMs ?? 500;
  const requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
  const wanted = String(options.limit);
  const log = options.logger.child({ node: options.nodeName, resource: PEERPOD_VM_RESOURCE });
  const stopping = new AbortController();
  const api = options.kubeConfig?.makeApiClient(CoreV1Api);

  const once = async (api: CoreV1Api): Promise<CapacityOutcome> => {
    const signal = AbortSignal.any([stopping.signal, AbortSignal.timeout(requestTimeoutMs)]);
    const node = await api.readNode({ name: options.nodeName }, withSignal(signal));
    if (node.status?.capacity?.[PEERPOD_VM_RESOURCE] === wanted) return "unchanged";
    const patchSignal = AbortSignal.any([stopping.signal, AbortSignal.timeout(requestTimeoutMs)]);
    await api.patchNodeStatus(
      { name: options.nodeName, body: { status: { capacity: { [PEERPOD_VM_RESOURCE]: wanted } } } },
      // A merge patch of the one key needs no knowledge of what the capacity map already holds.
      withSignal(patchSignal, "application/merge-patch+json"),
    );
    return "set";
  };

  let failing = false;
  const round = async (): Promise<CapacityRound> => {
    if (api === undefined) return { outcome: "disabled", reason: "no Kubernetes API configured" };
    let delay = backoffMs;
    for (let attempt = 1; ; attempt++) {
      try {
        const outcome = await once(api);
        if (outcome === "set") log.info({ capacity: wanted }, "advertised the node's peer-pod capacity");
        else if (failing) log.info({ capacity: wanted }, "the node's peer-pod capacity is in place again");
        failing = false;
        return { outcome };
      } catch (err) {
        const reason = describeKubeError(err);
        if (stopping.signal.aborted) return { outcome: "failed", reason: "stopped" };
        if (attempt < attempts && isRetriable(err)) {
          const wait = Math.min(retryAfterMs(err) ?? delay, MAX_RETRY_AFTER_MS);
          log.debug({ attempt, err: reason, retryInMs: wait }, "node capacity update failed; retrying");
          await sleep(wait, stopping.signal);
          delay *= 2;
          continue;
        }
        // One warning per failure streak; repeats would only flood the log.
        if (!failing)
          log.warn(
            { err: reason, retryInMs: intervalMs },
            `cannot advertise ${PEERPOD_VM_RESOURCE} on node ${options.nodeName}; peer pods will not be scheduled here until it is set`,
          );
        else log.debug({ err: reason }, "node capacity still not advertised");
        failing = true;
        return { outcome: "failed", reason };
      }
    }
  };

  // Rounds never overlap: a refresh during a round waits for it and runs after.
  let chain: Promise<CapacityRound> = Promise.resolve({ outcome: "unchanged" });
  const refresh = (): Promise<CapacityRound> => {
    chain = chain.then(round, round);
    return chain;
  };

  if (api === undefined)
    log.warn(
      "no Kubernetes API configured (neither KUBECONFIG nor an in-cluster service account): node capacity is not advertised",
    );
  const firstRound = refresh();
  const timer = api === undefined ? undefined : setInterval(() => void refresh(), intervalMs);
  timer?.unref();

  return {
    firstRound,
    refresh,
    async stop() {
      if (timer !== undefined) clearInterval(timer);
      stopping.abort();
      await chain;
    },
  };
}
