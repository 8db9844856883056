// peerpod-ctl: acts like the Kata shim for operators and tests.
//   peerpod-ctl run [--socket S] [--id ID] [--netns PATH] [--annotation k=v]... [--timeout 600s] -- CMD ARGS
//   peerpod-ctl ls [--probe-port 8000]
//   peerpod-ctl image upload libvirt --uri URI --pool POOL --name NAME FILE
import { parseArgs } from "node:util";
import { daemonConfigSpec, type Field, parseGoDuration } from "../config/index.ts";
import { runPod } from "../hypervisor/index.ts";

const USAGE = `usage:
  peerpod-ctl run [--socket PATH] [--id ID] [--netns PATH] [--annotation KEY=VALUE]... [--timeout DURATION] [-v] -- COMMAND [ARGS...]
  peerpod-ctl ls [--probe-port PORT]
  peerpod-ctl image upload libvirt [--uri URI] --pool POOL --name NAME FILE`;

/** What the daemon on this node uses for a setting: its variable, else the daemon's default. */
function daemonSetting(field: Field<unknown>): string {
  const fallback = typeof field.default === "function" ? field.default() : field.default;
  return process.env[field.env] ?? fallback ?? "";
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === "image") return image(rest);
  const dash = rest.indexOf("--");
  const flags = dash === -1 ? rest : rest.slice(0, dash);
  const command = dash === -1 ? [] : rest.slice(dash + 1);
  const opts = new Map<string, string[]>();
  for (let i = 0; i < flags.length; i++) {
    const f = flags[i]!.replace(/^--?/, "");
    if (f === "v") {
      opts.set("v", ["1"]);
      continue;
    }
    const [k, inline] = f.split(/=(.*)/s, 2) as [string, string | undefined];
    const v = inline ?? flags[++i];
    if (v === undefined) throw new Error(`flag --${k} needs a value\n${USAGE}`);
    opts.set(k, [...(opts.get(k) ?? []), v]);
  }
  const one = (k: string, d?: string) => opts.get(k)?.at(-1) ?? d;
  switch (cmd) {
    case "run": {
      if (command.length === 0) throw new Error(`run needs a command after --\n${USAGE}`);
      const annotations: Record<string, string> = {};
      for (const kv of opts.get("annotation") ?? []) {
        const eq = kv.indexOf("=");
        if (eq <= 0) throw new Error(`--annotation ${kv}: expected KEY=VALUE`);
        annotations[kv.slice(0, eq)] = kv.slice(eq + 1);
      }
      const verbose = opts.has("v");
      return runPod({
        socketPath: one("socket", daemonSetting(daemonConfigSpec.socketPath))!,
        command,
        sandboxId: one("id"),
        annotations,
        networkNamespacePath: one("netns", ""),
        startTimeoutMs: parseGoDuration(one("timeout", "600s")!),
        stdout: (c) => process.stdout.write(c),
        stderr: (c) => process.stderr.write(c),
        trace: verbose ? (l) => process.stderr.write(`peerpod-ctl: ${l}\n`) : undefined,
      });
    }
    case "ls": {
      const port = one("probe-port", daemonSetting(daemonConfigSpec.probePort));
      const res = await fetch(`http://127.0.0.1:${port}/debug/sandboxes`);
      if (!res.ok) throw new Error(`daemon answered ${res.status} ${await res.text()}`);
      const list = (await res.json()) as {
        id: string;
        state: string;
        vmName?: string;
        address?: string;
        vni?: number;
        ageSeconds: number;
      }[];
      const rows = [
        ["SANDBOX", "STATE", "VM", "ADDRESS", "VNI", "AGE"],
        ...list.map((s) => [
          s.id.slice(0, 16),
          s.state,
          s.vmName ?? "-",
          s.address ?? "-",
          String(s.vni ?? "-"),
          `${s.ageSeconds}s`,
        ]),
      ];
      const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
      for (const r of rows)
        process.stdout.write(
          `${r
            .map((c, i) => c.padEnd(widths[i]!))
            .join("  ")
            .trimEnd()}\n`,
        );
      return 0;
    }
    default:
      throw new Error(USAGE);
  }
}

/** image upload libvirt: the image file as a volume of a libvirt storage pool. */
async function image(argv: string[]): Promise<number> {
  const [action, target, ...rest] = argv;
  if (action !== "upload" || target !== "libvirt") throw new Error(`image: expected "upload libvirt"\n${USAGE}`);
  const { values, positionals } = parseArgs({
    args: rest,
    options: {
      uri: { type: "string", default: process.env.LIBVIRT_URI ?? "qemu:///system" },
      pool: { type: "string" },
      name: { type: "string" },
    },
    allowPositionals: true,
  });
  if (values.pool === undefined || values.name === undefined || positionals.length !== 1)
    throw new Error(`image upload libvirt needs --pool, --name and one FILE\n${USAGE}`);
  const { LibvirtClient } = await import("../../providers/libvirt/rpc/index.ts");
  const { uploadImage } = await import("../../providers/libvirt/upload-image.ts");
  const client = await LibvirtClient.connect(values.uri);
  try {
    let shown = -1;
    const facts = await uploadImage(client, {
      pool: values.pool,
      name: values.name,
      file: positionals[0]!,
      progress: (sent, total) => {
        const pct = Math.floor((sent * 100) / total);
        if (pct >= shown + 10 || sent === total) {
          shown = pct;
          process.stderr.write(`peerpod-ctl: uploaded ${pct}%\n`);
        }
      },
    });
    process.stdout.write(
      `${values.pool}/${values.name}: ${facts.format}, virtual size ${facts.virtualSize} bytes, ${facts.fileSize} bytes uploaded\n`,
    );
    return 0;
  } finally {
    await client.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`peerpod-ctl: ${err.message}\n`);
    process.exit(1);
  },
);
