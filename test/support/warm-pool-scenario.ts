// The warm pool's life on a cloud provider, as each provider's daemon test runs it: the pool
// fills with VMs that carry the node's, the cluster's and the pool's marks, a pod claims one, the
// pool refills, a SIGKILLed daemon's successor adopts the pool without launching or deleting a
// VM, and WARM_POOL_SIZE=0 deletes what is left. What differs between providers (how to list the
// pool's VMs, check their marks, count launches, see what is left) comes in as callbacks.
import { expect } from "vitest";
import { runPod } from "../../src/hypervisor/shim-driver.ts";
import type { DaemonDirs, RunningDaemon } from "./daemon-process.ts";
import { startDaemon } from "./daemon-process.ts";
import { metricValue, pollUntil, readyPoolVms } from "./warm-pool-probe.ts";

export interface WarmPoolScenario<L> {
  readonly dirs: DaemonDirs;
  /** WARM_POOL_SIZE while the pool runs (then 0). */
  readonly size: number;
  /** The daemon's environment with this WARM_POOL_SIZE. */
  readonly env: (size: number) => Record<string, string>;
  /** Told of every daemon started, so the file's after-hooks stop the one still running. */
  readonly started: (daemon: RunningDaemon) => void;
  /** The pool's VMs as the cloud lists them (ids or names), for "adopted, not made anew". */
  readonly poolVms: () => Promise<string[]> | string[];
  /** Asserts the marks of the pool the daemon reports ready (the names it lists). */
  readonly checkPool: (ready: string[]) => Promise<void>;
  /** Asserts what the cloud holds once the pool has refilled after the claim. */
  readonly checkRefilled?: (ready: string[]) => Promise<void>;
  /** VMs launched so far (creates, inserts, clones that booted). */
  readonly launches: () => number;
  /** What the cloud still holds of these VMs, and whether that is nothing. */
  readonly leftovers: () => Promise<L> | L;
  readonly nothingLeft: (l: L) => boolean;
}

export async function runWarmPoolScenario<L>(o: WarmPoolScenario<L>): Promise<void> {
  const start = async (size: number) => {
    const d = await startDaemon(o.dirs, o.env(size));
    o.started(d);
    return d;
  };
  const full = (d: RunningDaemon, what: string, ok: (r: string[]) => boolean = () => true) =>
    pollUntil(
      what,
      () => readyPoolVms(d),
      (r) => r.length === o.size && ok(r),
      d,
    );

  const d1 = await start(o.size);
  const ready = await full(d1, `${o.size} ready pool VMs`);
  await o.checkPool(ready);
  let out = "";
  const status = await runPod({
    socketPath: o.dirs.socketPath,
    command: ["echo", "warm"],
    stdout: (c) => (out += Buffer.from(c).toString()),
    stderr: () => {},
  });
  expect({ status, out }).toEqual({ status: 0, out: "warm\n" });
  expect(await metricValue(d1, "caa_warm_pool_claims_total")).toBe(1);
  // The claimed VM left the pool with its pod; a new one took its place.
  const refilled = await full(d1, "refilled", (r) => r.some((n) => !ready.includes(n)));
  await o.checkRefilled?.(refilled);
  const kept = [...(await o.poolVms())].sort();
  const launchesBefore = o.launches();
  await d1.kill(); // a crash: the pool VMs keep running
  const d2 = await start(o.size);
  // Adopted as they were: none deleted, none launched anew.
  expect(await full(d2, "adopted")).toEqual(refilled);
  expect([...(await o.poolVms())].sort()).toEqual(kept);
  expect(o.launches()).toBe(launchesBefore);
  await d2.stop();
  const d3 = await start(0);
  await pollUntil("deleted", o.leftovers, o.nothingLeft, d3);
}
