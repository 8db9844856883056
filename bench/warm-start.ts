// bench:warm-start — StartVM with a ready warm pool against StartVM cold, through the real
// daemon, on the libvirt provider (the test image under QEMU emulation) and on the local
// provider, in one run.
//
// Per provider: a daemon with WARM_POOL_SIZE=BENCH_POOL; before each warm StartVM the bench
// waits until the pool is full again, so every sample claims a ready VM. Then a daemon with
// WARM_POOL_SIZE=0 for the cold samples. Each sample is one StartVM call's wall time as the shim
// sees it (CreateVM before, StopVM after, both outside the timing). p50 of each.
// BENCH_PROVIDERS=local (or libvirt) runs one provider only; the RESULT line then has only its keys.
// Last line: RESULT warm_start_ratio=<warm/cold p50, libvirt> warm_startvm_ms=<warm p50, libvirt>
//   local_warm_start_ratio=… local_warm_startvm_ms=… (targets: ratio ≤ 0.1, warm ≤ 1000 ms)
import { randomBytes } from "node:crypto";
import { METADATA_NAMESPACE } from "../providers/libvirt/ownership-metadata.ts";
import { LibvirtClient, MetadataType } from "../providers/libvirt/rpc/index.ts";
import { Hypervisor } from "../src/gen/hypervisor_pb.js";
import { onHypervisor } from "../src/hypervisor/shim-driver.ts";
import {
  cleanupDaemonDirs,
  type DaemonDirs,
  makeDaemonDirs,
  type RunningDaemon,
  startDaemon,
} from "../test/support/daemon-process.ts";
import { acquireLibvirtDaemons, preparePeerVmHost, removeAll, SYSTEM_URI } from "../test/support/libvirt-host.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const LIBVIRT_ROUNDS = Number(process.env.BENCH_LIBVIRT_ROUNDS ?? 2);
const POOL = Number(process.env.BENCH_POOL ?? 1);
// BENCH_PROVIDERS=local runs only the local provider (cheap, no libvirtd or QEMU); default both.
const PROVIDERS = new Set((process.env.BENCH_PROVIDERS ?? "local,libvirt").split(",").map((s) => s.trim()));
for (const p of PROVIDERS)
  if (p !== "local" && p !== "libvirt")
    throw new Error(
      `BENCH_PROVIDERS: ${JSON.stringify(p)} is not a provider this bench runs (expected local and/or libvirt)`,
    );
const h = Hypervisor.method;
const run = randomBytes(3).toString("hex");

function p50(samples: number[]): number {
  const s = [...samples].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)]!;
}

async function readyPool(d: RunningDaemon): Promise<number> {
  const list = JSON.parse((await d.probe("/debug/sandboxes")).body) as { pool?: boolean; state: string }[];
  return list.filter((e) => e.pool === true && e.state === "ready").length;
}

async function untilPoolFull(d: RunningDaemon, size: number, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while ((await readyPool(d)) < size) {
    if (Date.now() > end) throw new Error(`pool not full after ${ms} ms:\n${d.logs().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The daemon's own split of the warm starts ("sandbox running" log lines), per phase the p50 in ms. */
function phaseLine(label: string, logs: string): void {
  const per = new Map<string, number[]>();
  for (const line of logs.split("\n")) {
    if (!line.includes('"sandbox running"') || !line.includes('"warm":true')) continue;
    const seconds = (JSON.parse(line) as { seconds?: Record<string, number> }).seconds ?? {};
    for (const [k, v] of Object.entries(seconds)) per.set(k, [...(per.get(k) ?? []), v * 1000]);
  }
  const parts = [...per].map(([k, v]) => `${k} ${p50(v).toFixed(0)}`);
  process.stdout.write(`${label}: warm StartVM phases p50 ms: ${parts.join(", ") || "none logged"}\n`);
}

/** One StartVM's wall time, between a CreateVM and a StopVM. */
async function timedStart(dirs: DaemonDirs, timeoutMs: number): Promise<number> {
  const id = `bench${run}${randomBytes(6).toString("hex")}`;
  await onHypervisor(dirs.socketPath, (c) => c.call(h.createVM, { id, annotations: {}, networkNamespacePath: "" }));
  const t0 = performance.now();
  try {
    await onHypervisor(dirs.socketPath, (c) => c.call(h.startVM, { id }, { timeoutMs }));
    return performance.now() - t0;
  } finally {
    await onHypervisor(dirs.socketPath, (c) => c.call(h.stopVM, { id }));
  }
}

async function measure(
  label: string,
  env: Record<string, string>,
  rounds: number,
  timeoutMs: number,
): Promise<{ warm: number; cold: number }> {
  const dirs = await makeDaemonDirs(`caa-bench-${label}-`);
  const warm: number[] = [];
  const cold: number[] = [];
  try {
    let d = await startDaemon(dirs, { ...env, WARM_POOL_SIZE: String(POOL) });
    try {
      for (let i = 0; i < rounds; i++) {
        await untilPoolFull(d, POOL, timeoutMs);
        warm.push(await timedStart(dirs, timeoutMs));
      }
      phaseLine(label, d.logs());
      const claims = /caa_warm_pool_claims_total (\d+)/.exec((await d.probe("/metrics")).body)?.[1];
      if (Number(claims) !== rounds) throw new Error(`${label}: ${claims} claims for ${rounds} warm starts`);
    } finally {
      await d.stop();
    }
    // Size 0 deletes the pool VMs at start-up; every start is cold.
    d = await startDaemon(dirs, { ...env, WARM_POOL_SIZE: "0" });
    try {
      for (let i = 0; i < rounds; i++) cold.push(await timedStart(dirs, timeoutMs));
    } finally {
      await d.stop();
    }
  } finally {
    const left = await cleanupDaemonDirs(dirs);
    if (left.length > 0) process.stderr.write(`${label}: killed leftover local VMs ${left.join(", ")}\n`);
  }
  const r = { warm: p50(warm), cold: p50(cold) };
  process.stdout.write(
    `${label}: warm StartVM p50 ${r.warm.toFixed(0)} ms (${warm.map((x) => x.toFixed(0)).join(", ")}), cold p50 ${r.cold.toFixed(0)} ms (${cold.map((x) => x.toFixed(0)).join(", ")}), ratio ${(r.warm / r.cold).toFixed(3)}\n`,
  );
  return r;
}

const results: string[] = [];
if (PROVIDERS.has("libvirt")) {
  const daemons = await acquireLibvirtDaemons();
  const client = await LibvirtClient.connect(SYSTEM_URI);
  const poolNames = new Set<string>();
  try {
    const host = await preparePeerVmHost(client);
    const libvirt = await measure(
      "libvirt",
      { ...host.env(), CLOUD_PROVIDER: "libvirt", NODE_NAME: `bench-lv-${run}` },
      LIBVIRT_ROUNDS,
      300_000,
    );
    results.push(
      `warm_start_ratio=${(libvirt.warm / libvirt.cold).toFixed(3)} warm_startvm_ms=${libvirt.warm.toFixed(0)}`,
    );
  } finally {
    // A failed run may leave pool VMs of this node behind: their names start podvm-pool-, so
    // only domains marked with this run's node are looked for.
    for (const d of await client.listAllDomains(0)) {
      if (!d.name.startsWith("podvm-pool-")) continue;
      const xml = await client.getDomainMetadata(d, MetadataType.element, METADATA_NAMESPACE, 0).catch(() => undefined);
      if (xml?.includes(`bench-lv-${run}`) === true) poolNames.add(d.name);
    }
    for (const n of poolNames) await removeAll(client, n);
    await client.close();
    await daemons.release();
  }
}
if (PROVIDERS.has("local")) {
  const local = await measure("local", { CLOUD_PROVIDER: "local", NODE_NAME: `bench-local-${run}` }, ROUNDS, 60_000);
  results.push(
    `local_warm_start_ratio=${(local.warm / local.cold).toFixed(3)} local_warm_startvm_ms=${local.warm.toFixed(0)}`,
  );
}
process.stdout.write(`RESULT ${results.join(" ")}\n`);
