// Waiting for a launched instance to run and get its address: polls with a growing interval,
// within the call's deadline. An instance that stops or terminates on the way is an error that
// says why (EC2's state reason); a poll failing with a retryable error is tolerated, since the
// instance exists and giving up now would only make the daemon delete it.

import { setTimeout as sleep } from "node:timers/promises";
import type { Instance } from "@aws-sdk/client-ec2";
import type { Logger } from "pino";
import { ProviderError } from "../provider.ts";
import { instanceAddress } from "./instance-view.ts";

export interface WaitOptions {
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  readonly usePublicIp: boolean;
  readonly logger: Logger;
}

const DEAD_STATES: ReadonlySet<string> = new Set(["shutting-down", "terminated", "stopping", "stopped"]);

/** `describe` returns the instance, or undefined while EC2 does not show it yet. */
export async function waitUntilRunning(
  id: string,
  describe: (signal: AbortSignal) => Promise<Instance | undefined>,
  options: WaitOptions,
  signal: AbortSignal,
): Promise<Instance> {
  let delay = options.initialDelayMs;
  let last = "not yet visible";
  // The same answer whether the deadline passes during a poll or between two.
  const deadlinePassed = () =>
    new ProviderError(`instance ${id} did not run in time (last seen ${last}): the call's deadline passed`, {
      retryable: true,
      cause: signal.reason,
    });
  for (;;) {
    let instance: Instance | undefined;
    try {
      instance = await describe(signal);
    } catch (err) {
      if (signal.aborted) throw deadlinePassed();
      if (!(err instanceof ProviderError) || !err.retryable) throw err;
      options.logger.warn({ vmId: id, err: err.message }, "polling the new instance failed; polling again");
    }
    if (instance !== undefined) {
      const state = instance.State?.Name ?? "unknown";
      if (state === "running" && instanceAddress(instance, options.usePublicIp) !== undefined) return instance;
      if (DEAD_STATES.has(state)) {
        const why = instance.StateReason?.Message ?? instance.StateTransitionReason ?? "no reason given";
        throw new ProviderError(`instance ${id} became ${state} while starting: ${why}`, { retryable: true });
      }
      last = state === "running" ? `running without a ${options.usePublicIp ? "public" : "private"} address` : state;
    }
    try {
      await sleep(delay, undefined, { signal });
    } catch (err) {
      if (!signal.aborted) throw err;
      throw deadlinePassed();
    }
    delay = Math.min(options.maxDelayMs, Math.round(delay * 1.5));
  }
}
