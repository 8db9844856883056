// bench:libvirt — our TypeScript client of libvirt's RPC protocol against libvirt's own C
// client library (through Debian's python3-libvirt), same daemon, same calls, same run; and
// what a peer VM's start costs in libvirt calls as against waiting for the guest to boot.
//
// Calls, one at a time in a loop as a caller waiting on each would make them, on
// qemu:///system holding BENCH_DOMAINS defined (never started) domains: list all domains,
// look one up by name, get its XML. Per call: p50 and p99 in microseconds. The ratio is the
// sum of our three p50s over the sum of the C client's (the Python loop's own cost is part of
// the C side, so the comparison leans in libvirt's favour).
//
// StartVM: the libvirt provider creates BENCH_VMS peer VMs from the test image (QEMU
// emulation); libvirt calls = from createVm's start until the domain is started (pool,
// network and volume lookups, define, disk, cidata upload, start) plus the lease lookups after
// the guest took its lease; boot wait = from the start until the lease is there.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import pino from "pino";
import { libvirtProviderConfig } from "../providers/libvirt/config.ts";
import { LibvirtProvider } from "../providers/libvirt/provider.ts";
import { type DomainRef, LibvirtClient } from "../providers/libvirt/rpc/index.ts";
import { benchVmRequest } from "../test/support/bench-vm-request.ts";
import { acquireLibvirtDaemons, preparePeerVmHost, removeAll, SYSTEM_URI } from "../test/support/libvirt-host.ts";

const run = promisify(execFile);
const CALLS = Number(process.env.BENCH_CALLS ?? 2000);
const DOMAINS = Number(process.env.BENCH_DOMAINS ?? 20);
const VMS = Number(process.env.BENCH_VMS ?? 1);
const PYTHON = "/usr/bin/python3";
const prefix = `bench-lv-${randomBytes(2).toString("hex")}`;

interface Stats {
  p50: number;
  p99: number;
}

function stats(samples: number[]): Stats {
  const s = [...samples].sort((a, b) => a - b);
  const at = (p: number) => s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
  return { p50: at(50), p99: at(99) };
}

async function timeLoop(n: number, call: (i: number) => Promise<unknown>): Promise<Stats> {
  for (let i = 0; i < Math.min(200, n); i++) await call(i);
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await call(i);
    samples.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  return stats(samples);
}

const PY_LOOP = `
import json, sys, time, libvirt
uri, prefix, n, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
c = libvirt.open(uri)
names = ["%s-%d" % (prefix, i) for i in range(count)]
doms = [c.lookupByName(x) for x in names]
def loop(f):
    for i in range(min(200, n)): f(i)
    s = []
    for i in range(n):
        t0 = time.perf_counter_ns(); f(i); s.append((time.perf_counter_ns() - t0) / 1000)
    s.sort()
    return {"p50": s[min(len(s) - 1, int(0.5 * len(s)))], "p99": s[min(len(s) - 1, int(0.99 * len(s)))]}
out = {
    "list": loop(lambda i: c.listAllDomains(0)),
    "lookup": loop(lambda i: c.lookupByName(names[i % count])),
    "xml": loop(lambda i: doms[i % count].XMLDesc(0)),
}
c.close()
print(json.dumps(out))
`;

const daemons = await acquireLibvirtDaemons();
const client = await LibvirtClient.connect(SYSTEM_URI);
const defined: DomainRef[] = [];
try {
  for (let i = 0; i < DOMAINS; i++) {
    defined.push(
      await client.defineDomainXml(
        `<domain type='qemu'><name>${prefix}-${i}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os><devices><disk type='file' device='disk'><source file='/var/lib/libvirt/images/${prefix}-${i}.img'/><target dev='vda' bus='virtio'/></disk></devices></domain>`,
      ),
    );
  }
  const names = defined.map((d) => d.name);
  const ours = {
    list: await timeLoop(CALLS, () => client.listAllDomains(0)),
    lookup: await timeLoop(CALLS, (i) => client.lookupDomainByName(names[i % names.length]!)),
    xml: await timeLoop(CALLS, (i) => client.getDomainXml(defined[i % defined.length]!)),
  };
  const { stdout } = await run(PYTHON, ["-c", PY_LOOP, SYSTEM_URI, prefix, String(CALLS), String(DOMAINS)], {
    maxBuffer: 1 << 20,
  });
  const theirs = JSON.parse(stdout) as typeof ours;

  console.log(`libvirt calls on ${SYSTEM_URI}, ${DOMAINS} domains, ${CALLS} calls each (µs)`);
  console.log(
    "call".padEnd(28) + "ours p50".padStart(10) + "ours p99".padStart(10) + "C p50".padStart(10) + "C p99".padStart(10),
  );
  for (const k of ["list", "lookup", "xml"] as const) {
    const label = { list: "listAllDomains", lookup: "lookupDomainByName", xml: "getDomainXml" }[k];
    console.log(
      label.padEnd(28) +
        ours[k].p50.toFixed(1).padStart(10) +
        ours[k].p99.toFixed(1).padStart(10) +
        theirs[k].p50.toFixed(1).padStart(10) +
        theirs[k].p99.toFixed(1).padStart(10),
    );
  }
  const ratio =
    (ours.list.p50 + ours.lookup.p50 + ours.xml.p50) / (theirs.list.p50 + theirs.lookup.p50 + theirs.xml.p50);

  // StartVM split, measured on the provider with the test image.
  const host = await preparePeerVmHost(client);
  const provider = new LibvirtProvider(libvirtProviderConfig(host.env()), {
    logger: pino({ level: "silent" }),
    leasePollMs: 250,
  });
  await provider.check(AbortSignal.timeout(30_000));
  const started: number[] = [];
  const proto = LibvirtClient.prototype;
  const startDomain = proto.startDomain;
  proto.startDomain = async function (this: LibvirtClient, ...args: Parameters<typeof startDomain>) {
    const out = await startDomain.apply(this, args);
    started.push(performance.now());
    return out;
  };
  const callsMs: number[] = [];
  const bootMs: number[] = [];
  for (let k = 0; k < VMS; k++) {
    const name = `${prefix}-vm${k}`;
    const t0 = performance.now();
    const vm = await provider.createVm(benchVmRequest(name, `bench-${k}`, undefined), AbortSignal.timeout(300_000));
    const t1 = performance.now();
    const tStart = started.at(-1)!;
    // The boot wait ends when the lease shows; a lease poll interval (250 ms) bounds the error.
    callsMs.push(tStart - t0);
    bootMs.push(t1 - tStart);
    const td = performance.now();
    await provider.deleteVm({ id: vm.id, name, owner: vm.owner }, AbortSignal.timeout(120_000));
    console.log(
      `StartVM ${name}: libvirt calls ${(tStart - t0).toFixed(0)} ms, boot wait ${(t1 - tStart).toFixed(0)} ms; delete ${(performance.now() - td).toFixed(0)} ms`,
    );
  }
  proto.startDomain = startDomain;
  await provider.close();
  const overhead = stats(callsMs).p50;
  console.log(
    `RESULT libvirt_call_p50_ratio=${ratio.toFixed(2)} startvm_overhead_ms=${overhead.toFixed(0)} startvm_boot_wait_ms=${stats(bootMs).p50.toFixed(0)}`,
  );
} finally {
  // The bench's domains, volumes and logs, whatever state a failure left them in.
  await removeAll(client, prefix);
  await client.close();
  await daemons.release();
}
