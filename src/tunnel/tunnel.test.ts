// Both ends of a pod's tunnel on real network namespaces (root only): a worker node with a
// CNI-like pod, a peer VM, and the underlay between them, all built by TunnelLab.
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BRIDGE_ADDRESS,
  type LabPod,
  netnsPathOf,
  runIn,
  TunnelLab,
  UNDERLAY_DEV,
  UNDERLAY_NODE,
  UNDERLAY_VM,
} from "../../test/support/tunnel-lab.ts";
import type { PodNetwork } from "../userdata/index.ts";
import { NetnsTools } from "./netns-tools.ts";
import { redirectTargets } from "./tc-redirect.ts";
import { podNetnsPath, setupVmTunnel, teardownVmTunnel } from "./vm-tunnel.ts";
import { WorkerTunnels } from "./worker-tunnels.ts";

const VNI = 555123;
const VXLAN = `vxlan${VNI}`;
const PORT = 4789;
const signal = new AbortController().signal;

let lab: TunnelLab;
let pod: LabPod;
let tunnels: WorkerTunnels;

beforeAll(async () => {
  lab = await TunnelLab.create("t");
  pod = await lab.addPod();
  tunnels = new WorkerTunnels({ vxlanPort: PORT, hostInterface: UNDERLAY_DEV, underlayNetns: lab.node });
});

afterAll(async () => {
  await lab?.close();
});

const linkNames = async (netnsPath: string) => (await new NetnsTools(netnsPath).links()).map((l) => l.ifname).sort();

/** ICMP echo requests the namespace's own IP stack has received so far. */
async function icmpInEchos(netnsPath: string): Promise<number> {
  const snmp = (await runIn(netnsPath, "cat", ["/proc/net/snmp"])).split("\n").filter((l) => l.startsWith("Icmp:"));
  const [names, values] = snmp.map((l) => l.trim().split(/\s+/));
  return Number(values![names!.indexOf("InEchos")]);
}

async function txPackets(netnsPath: string, dev: string): Promise<number> {
  const [link] = JSON.parse(await runIn(netnsPath, "ip", ["-j", "-s", "link", "show", dev])) as {
    stats64: { tx: { packets: number } };
  }[];
  return link!.stats64.tx.packets;
}

describe("a pod's tunnel, worker end and VM end", () => {
  let network: PodNetwork;
  let podnsName: string;
  let podns: string;

  it("prepare reads the pod's interface as CNI left it, and the node's address", async () => {
    const [eth0] = JSON.parse(await runIn(pod.path, "ip", ["-j", "link", "show", "eth0"])) as { address: string }[];
    const prepared = await tunnels.prepare("sb1", pod.path, signal);
    expect(prepared).toEqual({
      workerAddress: UNDERLAY_NODE,
      vni: 0,
      vxlanPort: PORT,
      interfaceName: "eth0",
      mac: eth0!.address,
      mtu: 1500,
      addresses: [`${pod.ip}/24`],
      routes: [{ dst: "default", gateway: BRIDGE_ADDRESS, dev: "eth0" }],
    });
    network = { ...prepared, vni: VNI };
  });

  it("finds the node's address on the default route's interface when none is named", async () => {
    await runIn(lab.node, "ip", ["route", "add", "default", "via", UNDERLAY_VM]);
    try {
      const prepared = await new WorkerTunnels({ vxlanPort: PORT, underlayNetns: lab.node }).prepare(
        "sb1",
        pod.path,
        signal,
      );
      expect(prepared.workerAddress).toBe(UNDERLAY_NODE);
    } finally {
      await runIn(lab.node, "ip", ["route", "del", "default"]);
    }
    await expect(
      new WorkerTunnels({ vxlanPort: PORT, underlayNetns: lab.node }).prepare("sb1", pod.path, signal),
    ).rejects.toThrow(/no IPv4 default route/);
  });

  it("connect and setupVmTunnel build both ends", async () => {
    await tunnels.connect("sb1", pod.path, network, UNDERLAY_VM, signal);
    podnsName = lab.name("podns");
    podns = await setupVmTunnel(network, { podNetnsName: podnsName, underlayNetns: lab.vm });
    expect(podns).toBe(podNetnsPath(podnsName));

    // Worker end: the vxlan sits in the pod's namespace, its socket in the node's (link_netnsid
    // names the namespace it was created in), and the pod's namespace holds no address or
    // route toward the VM: packets can only be leaving through the node's stack.
    const vx = await new NetnsTools(pod.path).link(VXLAN);
    expect(vx?.link_netnsid).toBeTypeOf("number");
    expect(vx?.linkinfo?.info_data).toMatchObject({ id: VNI, remote: UNDERLAY_VM, local: UNDERLAY_NODE, port: PORT });
    expect(vx?.mtu).toBe(1450);
    expect(vx?.flags).toContain("UP");
    expect(await redirectTargets(new NetnsTools(pod.path), "eth0")).toEqual([VXLAN]);
    expect(await redirectTargets(new NetnsTools(pod.path), VXLAN)).toEqual(["eth0"]);
    expect(await linkNames(pod.path)).toEqual(["eth0", "lo", VXLAN]);
    expect(await linkNames(lab.node)).not.toContain(VXLAN);

    // VM end: the pod's interface, MAC, address, route and MTU in podns.
    const eth0 = await new NetnsTools(podns).link("eth0");
    expect(eth0?.linkinfo?.info_data).toMatchObject({ id: VNI, remote: UNDERLAY_NODE, port: PORT });
    expect(eth0?.link_netnsid).toBeTypeOf("number");
    expect(eth0?.address).toBe(network.mac);
    expect(eth0?.mtu).toBe(1450);
    expect(await new NetnsTools(podns).ipv4Addresses("eth0")).toEqual([`${pod.ip}/24`]);
    expect(await runIn(podns, "ip", ["-4", "route", "show", "default"])).toContain(
      `default via ${BRIDGE_ADDRESS} dev eth0`,
    );
    expect(await linkNames(podns)).toEqual(["eth0", "lo"]);
    expect(await linkNames(lab.vm)).toEqual(["lo", UNDERLAY_DEV]);
  });

  it("carries ping from the node to the pod's IP into podns, past the pod namespace's own stack", async () => {
    const [podnsBefore, podBefore, underlayBefore] = [
      await icmpInEchos(podns),
      await icmpInEchos(pod.path),
      await txPackets(lab.node, UNDERLAY_DEV),
    ];
    await runIn(lab.node, "ping", ["-c", "3", "-i", "0.05", "-W", "2", pod.ip]);
    expect((await icmpInEchos(podns)) - podnsBefore).toBe(3);
    expect((await icmpInEchos(pod.path)) - podBefore).toBe(0);
    // The encapsulated requests left through the node's underlay device.
    expect((await txPackets(lab.node, UNDERLAY_DEV)) - underlayBefore).toBeGreaterThanOrEqual(3);
  });

  it("lets a TCP server in podns answer a client on the node (1 MiB, past the MTU)", async () => {
    const server = await lab.startServer(podns, "echo-server", "0.0.0.0", 7001);
    const r = await lab.runClient<{ echoed: boolean; localAddress: string }>(
      lab.node,
      "echo-client",
      pod.ip,
      7001,
      1 << 20,
    );
    expect(r).toMatchObject({ echoed: true, localAddress: BRIDGE_ADDRESS });
    expect(server.lines).toContain(JSON.stringify({ peer: BRIDGE_ADDRESS }));
  });

  it("lets a process in podns reach the node", async () => {
    await lab.startServer(lab.node, "echo-server", BRIDGE_ADDRESS, 7002);
    const r = await lab.runClient<{ echoed: boolean; localAddress: string }>(
      podns,
      "echo-client",
      BRIDGE_ADDRESS,
      7002,
      4096,
    );
    expect(r).toEqual({ echoed: true, bytes: 4096, localAddress: pod.ip, remoteAddress: BRIDGE_ADDRESS });
  });

  it("connect again keeps one redirect each way and repairs a partial worker end", async () => {
    const ns = new NetnsTools(pod.path);
    await tunnels.connect("sb1", pod.path, network, UNDERLAY_VM, signal);
    expect(await redirectTargets(ns, "eth0")).toEqual([VXLAN]);
    expect(await redirectTargets(ns, VXLAN)).toEqual(["eth0"]);

    // As if a crash came after the first redirect: the VM's replies no longer reach eth0.
    await runIn(pod.path, "tc", ["qdisc", "del", "dev", VXLAN, "ingress"]);
    await expect(runIn(lab.node, "ping", ["-c", "1", "-W", "0.3", pod.ip])).rejects.toThrow();
    await tunnels.connect("sb1", pod.path, network, UNDERLAY_VM, signal);
    expect(await redirectTargets(ns, VXLAN)).toEqual(["eth0"]);
    await runIn(lab.node, "ping", ["-c", "1", "-W", "2", pod.ip]);

    // A setupVmTunnel retry keeps the working VM end too.
    await setupVmTunnel(network, { podNetnsName: podnsName, underlayNetns: lab.vm });
    await runIn(lab.node, "ping", ["-c", "1", "-W", "2", pod.ip]);
  });

  it("builds the VM end from a process inside the VM's namespace, as a peer VM's forwarder does", async () => {
    // A second pod, so this VM end has its own VNI, podns and worker end.
    const pod2 = await lab.addPod();
    const network2 = { ...(await tunnels.prepare("sb2", pod2.path, signal)), vni: VNI + 10 };
    await tunnels.connect("sb2", pod2.path, network2, UNDERLAY_VM, signal);
    const name = lab.name("podns-inside");
    const module = fileURLToPath(new URL("./vm-tunnel.ts", import.meta.url));
    const inVm = (call: string) =>
      runIn(lab.vm, process.execPath, [
        "--input-type=module",
        "-e",
        `const t = await import(${JSON.stringify(module)});
         console.log(await t.${call}(${JSON.stringify(network2)}, { podNetnsName: ${JSON.stringify(name)} }) ?? "done");`,
      ]);
    expect((await inVm("setupVmTunnel")).trim()).toBe(podNetnsPath(name));
    const before = await icmpInEchos(podNetnsPath(name));
    await runIn(lab.node, "ping", ["-c", "1", "-W", "2", pod2.ip]);
    expect((await icmpInEchos(podNetnsPath(name))) - before).toBe(1);

    expect((await inVm("teardownVmTunnel")).trim()).toBe("done");
    expect(await netnsNames()).not.toContain(name);
    await tunnels.teardown("sb2", pod2.path, network2);
    expect(await linkNames(pod2.path)).toEqual(["eth0", "lo"]);
  });

  it("teardown removes every device and filter of both ends, and is idempotent", async () => {
    await tunnels.teardown("sb1", pod.path, network);
    expect(await linkNames(pod.path)).toEqual(["eth0", "lo"]);
    expect(await new NetnsTools(pod.path).hasIngressQdisc("eth0")).toBe(false);
    expect(await linkNames(lab.node)).not.toContain(VXLAN);
    await tunnels.teardown("sb1", pod.path, network);
    await tunnels.teardown("sb1", pod.path, undefined);
    await tunnels.teardown("sb1", netnsPathOf(`${lab.prefix}-gone`), network);

    await teardownVmTunnel(network, { podNetnsName: podnsName, underlayNetns: lab.vm });
    expect((await runIn(lab.vm, "ip", ["netns", "list"])).split("\n").map((l) => l.split(" ")[0])).not.toContain(
      podnsName,
    );
    expect(await linkNames(lab.vm)).toEqual(["lo", UNDERLAY_DEV]);
    await teardownVmTunnel(network, { podNetnsName: podnsName, underlayNetns: lab.vm });

    // The pod's own interface is back to what CNI left: the node talks to its stack again.
    const before = await icmpInEchos(pod.path);
    await runIn(lab.node, "ping", ["-c", "1", "-W", "2", pod.ip]);
    expect((await icmpInEchos(pod.path)) - before).toBe(1);
  });
});

describe("bad inputs give clear errors and leave nothing behind", () => {
  const goodNetwork = (): PodNetwork => ({
    workerAddress: UNDERLAY_NODE,
    vni: VNI + 1,
    vxlanPort: PORT,
    interfaceName: "eth0",
    mac: "02:42:0a:4d:00:63",
    mtu: 1500,
    addresses: ["10.77.0.99/24"],
    routes: [{ dst: "default", gateway: BRIDGE_ADDRESS }],
  });

  /** Nothing tunnel-made in the node, VM and pod namespaces. */
  async function expectNoTunnel(...extra: string[]): Promise<void> {
    for (const ns of [lab.node, lab.vm, ...extra]) {
      expect(
        (await new NetnsTools(ns).links()).filter((l) => l.linkinfo?.info_kind === "vxlan").map((l) => l.ifname),
      ).toEqual([]);
    }
    for (const ns of extra) expect(await new NetnsTools(ns).hasIngressQdisc("eth0").catch(() => false)).toBe(false);
  }

  it("prepare: a namespace path that does not exist", async () => {
    const path = netnsPathOf(`${lab.prefix}-nope`);
    await expect(tunnels.prepare("sb2", path, signal)).rejects.toThrow(`pod network namespace ${path} does not exist`);
  });

  it("prepare: a namespace with only lo", async () => {
    const empty = await lab.addPod({ withInterface: false });
    await expect(tunnels.prepare("sb2", empty.path, signal)).rejects.toThrow(/has no network interface besides lo/);
  });

  it("prepare: an MTU too small for VXLAN", async () => {
    const tiny = await lab.addPod({ mtu: 100 });
    await expect(tunnels.prepare("sb2", tiny.path, signal)).rejects.toThrow(
      /pod interface eth0 in .* has MTU 100: a VXLAN tunnel needs at least 118/,
    );
    const small = await lab.addPod({ mtu: 118 });
    expect((await tunnels.prepare("sb2", small.path, signal)).mtu).toBe(118);
  });

  it("connect: a namespace that is gone", async () => {
    const path = netnsPathOf(`${lab.prefix}-nope`);
    await expect(tunnels.connect("sb2", path, goodNetwork(), UNDERLAY_VM, signal)).rejects.toThrow(
      `pod network namespace ${path} does not exist`,
    );
    await expectNoTunnel();
  });

  it("connect: a pod without the named interface", async () => {
    const p = await lab.addPod();
    await expect(
      tunnels.connect("sb2", p.path, { ...goodNetwork(), interfaceName: "eth9" }, UNDERLAY_VM, signal),
    ).rejects.toThrow(`pod interface eth9 is missing from pod network namespace ${p.path}`);
    await expectNoTunnel(p.path);
  });

  it("connect: a failure once the vxlan is in the pod's namespace undoes it", async () => {
    const p = await lab.addPod();
    // The device is made and moved, but cannot come up: its UDP port is taken on the node.
    await lab.startServer(lab.node, "udp-holder", "0.0.0.0", PORT + 1);
    await expect(
      tunnels.connect("sb2", p.path, { ...goodNetwork(), vxlanPort: PORT + 1 }, UNDERLAY_VM, signal),
    ).rejects.toThrow(new RegExp(`ip link set dev vxlan${VNI + 1} mtu 1450 up.*Address already in use`));
    await expectNoTunnel(p.path);
  });

  it("connect: a VNI already taken on the node", async () => {
    const p = await lab.addPod();
    await runIn(lab.node, "ip", [
      "link",
      "add",
      "taken",
      "type",
      "vxlan",
      "id",
      String(VNI + 1),
      "dstport",
      String(PORT),
      "remote",
      "192.168.77.9",
    ]);
    try {
      await expect(tunnels.connect("sb2", p.path, goodNetwork(), UNDERLAY_VM, signal)).rejects.toThrow(/VNI/);
    } finally {
      await runIn(lab.node, "ip", ["link", "del", "taken"]);
    }
    await expectNoTunnel(p.path);
  });

  it("connect: a VM address that is not IPv4, before touching anything", async () => {
    const p = await lab.addPod();
    await expect(tunnels.connect("sb2", p.path, goodNetwork(), "vm.example", signal)).rejects.toThrow(
      'VXLAN remote "vm.example" is not an IPv4 address',
    );
    await expectNoTunnel(p.path);
  });

  it("setupVmTunnel: an MTU too small, before making podns", async () => {
    const name = lab.name("podns-tiny");
    await expect(
      setupVmTunnel({ ...goodNetwork(), mtu: 100 }, { podNetnsName: name, underlayNetns: lab.vm }),
    ).rejects.toThrow(/MTU 100/);
    expect(await netnsNames()).not.toContain(name);
  });

  it("setupVmTunnel: a route that cannot be added removes podns and the vxlan", async () => {
    const name = lab.name("podns-bad");
    const network = { ...goodNetwork(), routes: [{ dst: "10.200.0.0/16", gateway: "10.99.0.1" }] };
    await expect(setupVmTunnel(network, { podNetnsName: name, underlayNetns: lab.vm })).rejects.toThrow(
      /10\.200\.0\.0\/16 via 10\.99\.0\.1/,
    );
    expect(await netnsNames()).not.toContain(name);
    await expectNoTunnel();
  });

  it("names the missing capability when run without CAP_NET_ADMIN", async () => {
    const module = fileURLToPath(new URL("./worker-tunnels.ts", import.meta.url));
    const script = `
      const { WorkerTunnels } = await import(${JSON.stringify(module)});
      await new WorkerTunnels({ vxlanPort: 4789 }).prepare("sb3", ${JSON.stringify(pod.path)}, AbortSignal.timeout(5000))
        .then(() => console.log("no error"), (e) => console.log(e.message));`;
    // Root without the two capabilities (as in a container not granted them), rather than
    // another user: another user could not read a checkout in a private (0700) folder.
    const drop = "-net_admin,-sys_admin";
    const { stdout } = await promisify(execFile)("setpriv", [
      `--bounding-set=${drop}`,
      `--inh-caps=${drop}`,
      "--",
      process.execPath,
      "--input-type=module",
      "-e",
      script,
    ]);
    expect(stdout).toMatch(/^pod network tunnels need CAP_NET_ADMIN and CAP_SYS_ADMIN .*run as root/);
  });
});

async function netnsNames(): Promise<string[]> {
  const { stdout } = await promisify(execFile)("ip", ["netns", "list"]);
  return stdout.split("\n").map((l) => l.split(" ")[0]!);
}
