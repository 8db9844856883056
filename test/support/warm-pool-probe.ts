// What the daemon's debug server and metrics say about its warm pool, for the tests that run a
// pool on a provider.
import type { RunningDaemon } from "./daemon-process.ts";

export interface PoolEntry {
  readonly id: string;
  readonly state: string;
  readonly pool?: boolean;
  readonly vmId?: string;
}

/** The pool VMs /debug/sandboxes lists. */
export async function poolEntries(daemon: RunningDaemon): Promise<PoolEntry[]> {
  return (JSON.parse((await daemon.probe("/debug/sandboxes")).body) as PoolEntry[]).filter((e) => e.pool === true);
}

/** Names of the ready pool VMs, sorted. */
export async function readyPoolVms(daemon: RunningDaemon): Promise<string[]> {
  return (await poolEntries(daemon))
    .filter((e) => e.state === "ready")
    .map((e) => e.id)
    .sort();
}

/** One sample of a metric without labels or with its labels written out (0 when absent). */
export async function metricValue(daemon: RunningDaemon, name: string): Promise<number> {
  const line = (await daemon.probe("/metrics")).body.split("\n").find((l) => l.startsWith(`${name} `));
  return line === undefined ? 0 : Number(line.slice(name.length + 1));
}

/** Polls `get` (every `intervalMs`) until `ok`, or fails with the last value and the daemon's latest logs. */
export async function pollUntil<T>(
  what: string,
  get: () => Promise<T> | T,
  ok: (v: T) => boolean,
  daemon: RunningDaemon | undefined,
  ms = 120_000,
  intervalMs = 100,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await get();
    if (ok(v)) return v;
    if (Date.now() > end)
      throw new Error(`${what}: still ${JSON.stringify(v)} after ${ms} ms\n${daemon?.logs().slice(-4000) ?? ""}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
