// The pod network tunnel against a plain veth pair, on the same two namespaces and in the same
// run (root only). A lab worker node, peer VM and CNI-like pod are built from network
// namespaces (test/support/tunnel-lab.ts); the VM's podns gets both ends' tunnel and, beside
// it, a veth straight to the node. From the node, a TCP client then talks to a server in podns
// either through the tunnel (the pod's IP) or over the veth:
//   throughput  one connection sending 1 MiB writes for SECONDS, counted by the receiver;
//   latency     64-byte ping-pong round trips on one connection, p50 and p99.
// Each figure is the median of ROUNDS rounds, paths alternating within a round.
//
// Run: node bench/tunnel.ts   (last line: RESULT tunnel_throughput_ratio=… tunnel_rtt_ratio=…)
import { setupVmTunnel, teardownVmTunnel, WorkerTunnels } from "../src/tunnel/index.ts";
import type { PodNetwork } from "../src/userdata/index.ts";
import { runCommand } from "../src/util/run-command.ts";
import { type LabPod, runIn, TunnelLab, UNDERLAY_DEV, UNDERLAY_VM } from "../test/support/tunnel-lab.ts";

const SECONDS = 3;
const ROUNDS = 3;
const PINGPONGS = 5_000;
const VNI = 555000;
const SINK_PORT = 7101;
const ECHO_PORT = 7102;
const VETH_NODE = "10.78.0.1";
const VETH_POD = "10.78.0.2";

interface Sample {
  readonly mbPerS: number;
  readonly p50us: number;
  readonly p99us: number;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

async function measure(lab: TunnelLab, host: string): Promise<Sample> {
  const t = await lab.runClient<{ received: number; seconds: number }>(
    lab.node,
    "stream-client",
    host,
    SINK_PORT,
    SECONDS,
  );
  const rtt = await lab.runClient<{ p50us: number; p99us: number }>(
    lab.node,
    "pingpong-client",
    host,
    ECHO_PORT,
    PINGPONGS,
    64,
  );
  return { mbPerS: t.received / t.seconds / 1e6, p50us: rtt.p50us, p99us: rtt.p99us };
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error("bench/tunnel.ts builds network namespaces: run it as root");
  const lab = await TunnelLab.create("bench");
  const tunnels = new WorkerTunnels({ vxlanPort: 4789, hostInterface: UNDERLAY_DEV, underlayNetns: lab.node });
  const podnsName = lab.name("podns");
  let network: PodNetwork | undefined;
  let pod: LabPod | undefined;
  try {
    pod = await lab.addPod();
    const signal = new AbortController().signal;
    network = { ...(await tunnels.prepare("bench", pod.path, signal)), vni: VNI };
    await tunnels.connect("bench", pod.path, network, UNDERLAY_VM, signal);
    const podns = await setupVmTunnel(network, { podNetnsName: podnsName, underlayNetns: lab.vm });

    // The plain path: a veth from the node straight into podns.
    await runIn(lab.node, "ip", [
      "link",
      "add",
      "direct0",
      "type",
      "veth",
      "peer",
      "name",
      "direct0",
      "netns",
      podnsName,
    ]);
    await runIn(lab.node, "ip", ["addr", "add", `${VETH_NODE}/24`, "dev", "direct0"]);
    await runIn(lab.node, "ip", ["link", "set", "direct0", "up"]);
    await runIn(podns, "ip", ["addr", "add", `${VETH_POD}/24`, "dev", "direct0"]);
    await runIn(podns, "ip", ["link", "set", "direct0", "up"]);

    await lab.startServer(podns, "sink-server", "0.0.0.0", SINK_PORT);
    await lab.startServer(podns, "echo-server", "0.0.0.0", ECHO_PORT);

    const paths = [
      { label: "tunnel (pod IP)", host: pod.ip },
      { label: "plain veth", host: VETH_POD },
    ];
    const samples = new Map<string, Sample[]>(paths.map((p) => [p.label, []]));
    for (let round = 0; round < ROUNDS; round++) {
      for (const p of paths) samples.get(p.label)!.push(await measure(lab, p.host));
    }

    const figure = (label: string, f: keyof Sample) => median(samples.get(label)!.map((s) => s[f]));
    const rows = [
      ["path", "MB/s", "p50 µs", "p99 µs"],
      ...paths.map((p) => [
        p.label,
        figure(p.label, "mbPerS").toFixed(0),
        figure(p.label, "p50us").toFixed(1),
        figure(p.label, "p99us").toFixed(1),
      ]),
    ];
    const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
    console.log(
      `node → podns over TCP; median of ${ROUNDS} rounds; ${SECONDS} s streams of 1 MiB writes; ${PINGPONGS} round trips of 64 bytes`,
    );
    for (const r of rows)
      console.log(r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  "));
    const [tunnel, veth] = paths.map((p) => p.label) as [string, string];
    const throughputRatio = figure(tunnel, "mbPerS") / figure(veth, "mbPerS");
    const rttRatio = figure(tunnel, "p50us") / figure(veth, "p50us");
    console.log(`RESULT tunnel_throughput_ratio=${throughputRatio.toFixed(3)} tunnel_rtt_ratio=${rttRatio.toFixed(3)}`);
  } finally {
    if (network !== undefined && pod !== undefined) {
      await tunnels.teardown("bench", pod.path, network);
      await teardownVmTunnel(network, { podNetnsName: podnsName, underlayNetns: lab.vm });
    }
    await lab.close();
  }
  // Nothing of the lab may outlive it (checked after the clean-up, so it never hides the run's own error).
  const left = (await runCommand("ip", ["netns", "list"])).split("\n").filter((l) => l.startsWith(lab.prefix));
  if (left.length > 0) throw new Error(`namespaces left behind: ${left.join(", ")}`);
}

await main();
