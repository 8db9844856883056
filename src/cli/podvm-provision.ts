// podvm-provision (`agent-protocol-forwarder provision` in the peer-pod image): boot-time
// provisioning from user-data, see src/provision/provision.ts. Exits non-zero, with one line
// per source tried, when the VM must not serve the agent.
//   provision [--source nocloud,aws,azure,vsphere] [--imds-endpoint URL] [--root DIR]
//             [--deadline 60s] [--no-pod-netns] [--image-tls-dir /etc/peerpod/tls]
//             [--wait-online PROGRAM]
import { parseArgs } from "node:util";
import { parseGoDuration } from "../config/go-duration.ts";
import {
  awsImdsSource,
  azureImdsSource,
  detectPlatform,
  noCloudSource,
  provision,
  type UserDataSource,
  vsphereGuestinfoSource,
} from "../provision/index.ts";
import { runCommand } from "../util/run-command.ts";

const USAGE =
  "usage: agent-protocol-forwarder provision [--source nocloud,aws,azure,vsphere] [--imds-endpoint URL] [--root DIR] [--deadline DURATION] [--no-pod-netns] [--image-tls-dir DIR] [--wait-online PROGRAM]";
const report = (line: string) => process.stderr.write(`podvm-provision: ${line}\n`);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      source: { type: "string" },
      "imds-endpoint": { type: "string" },
      root: { type: "string", default: "/" },
      deadline: { type: "string", default: "60s" },
      "no-pod-netns": { type: "boolean", default: false },
      // Operator certificates built into the image (podvm/build.sh --operator-certs).
      "image-tls-dir": { type: "string", default: "/etc/peerpod/tls" },
      // Run (with --any) before the first metadata service is asked, e.g.
      // /lib/systemd/systemd-networkd-wait-online: the unit then need not wait for the
      // network, and a NoCloud volume is read while DHCP is still going on.
      "wait-online": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  let deadlineMs: number;
  try {
    deadlineMs = parseGoDuration(values.deadline);
  } catch {
    throw new Error(`--deadline ${values.deadline}: expected a Go duration such as 60s`);
  }
  const endpoint = values["imds-endpoint"];
  const waitOnline = values["wait-online"];
  const online = once(async () => {
    if (waitOnline === undefined) return;
    report(`waiting for the first address (${waitOnline} --any)`);
    await runCommand(waitOnline, ["--any", `--timeout=${Math.ceil(deadlineMs / 1000)}`]).catch((err: Error) =>
      report(`no address yet (${err.message.split("\n")[0]}); asking anyway`),
    );
  });
  const make: Record<string, (quick: boolean) => UserDataSource> = {
    nocloud: (quick) => noCloudSource({ settleMs: quick ? 0 : 10_000 }),
    aws: () => afterOnline(awsImdsSource({ endpoint }), online),
    azure: () => afterOnline(azureImdsSource({ endpoint }), online),
    vsphere: () => vsphereGuestinfoSource(),
  };
  let names: string[];
  if (values.source !== undefined) {
    names = values.source.split(",").map((s) => s.trim());
    const unknown = names.filter((n) => !(n in make));
    if (unknown.length > 0)
      throw new Error(
        `--source ${values.source}: unknown ${unknown.join(", ")}; expected nocloud, aws, azure or vsphere`,
      );
  } else {
    const platform = await detectPlatform();
    report(`platform: ${platform}`);
    // A cidata volume wins anywhere; the cloud's own metadata service comes next.
    names = platform === "other" ? ["nocloud"] : ["nocloud-quick", platform];
  }
  const sources = names.map((n) => (n === "nocloud-quick" ? make.nocloud!(true) : make[n]!(false)));
  const result = await provision({
    sources,
    root: values.root,
    deadlineMs,
    retryIntervalMs: 1000,
    makePodNetns: values["no-pod-netns"] ? undefined : makePodNetns,
    imageTlsDir: values["image-tls-dir"],
    report,
    signal: AbortSignal.timeout(deadlineMs + 30_000),
  });
  report(
    `wrote ${result.written.join(", ")}${result.initdataDigest === undefined ? "" : `; initdata digest ${result.initdataDigest}`}`,
  );
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  return () => {
    done ??= fn();
    return done;
  };
}

/** A metadata service's source that first waits for the network (once for all of them). */
function afterOnline(source: UserDataSource, online: () => Promise<void>): UserDataSource {
  return {
    name: source.name,
    read: async (signal) => {
      await online();
      return source.read(signal);
    },
  };
}

/** The pod's network namespace, where kata-agent runs and the forwarder puts the tunnel end. */
async function makePodNetns(): Promise<void> {
  const list = await runCommand("ip", ["netns", "list"]);
  if (!/^podns\b/m.test(list)) await runCommand("ip", ["netns", "add", "podns"]);
  await runCommand("ip", ["-n", "podns", "link", "set", "lo", "up"]);
}

main().catch((err: Error) => {
  report(`FAILED: ${err.message}`);
  process.exit(1);
});
