// bench:podvm-reproducible — builds the peer-pod image a second time from the same inputs as
// the cached one (podvm/cached-build.ts: same sources, SOURCE_DATE_EPOCH, packages) and
// compares the podvm.raw bytes. A second build costs minutes, so this is not part of every
// CI run. When the bytes differ it says where: which partition, and for the root file system
// which files differ in content or metadata (both mounted read-only).
// Last line: RESULT podvm_raw_reproducible=<1|0> podvm_second_build_s=<seconds> differing_bytes=<n>
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { buildInto, cachedPodvmImage } from "../podvm/cached-build.ts";

const run = promisify(execFile);

async function sha256(file: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest("hex");
}

interface Partition {
  readonly name: string;
  readonly start: number;
  readonly size: number;
}

async function partitions(raw: string): Promise<Partition[]> {
  const { stdout } = await run("sfdisk", ["--json", raw]);
  const t = JSON.parse(stdout) as { partitiontable: { partitions: { name?: string; start: number; size: number }[] } };
  return t.partitiontable.partitions.map((p, i) => ({
    name: p.name ?? `part${i + 1}`,
    start: p.start * 512,
    size: p.size * 512,
  }));
}

/** Byte offsets where the two files differ (cmp -l), at most `limit` of them, and the count. */
async function differingOffsets(a: string, b: string): Promise<{ count: number; offsets: number[] }> {
  const { stdout } = await run(
    "sh",
    ["-c", 'cmp -l "$1" "$2" | awk \'{n++; if (n <= 2000) print $1} END {print "count", n+0}\'', "sh", a, b],
    {
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  const lines = stdout.trim().split("\n");
  const count = Number(lines.pop()?.split(" ")[1] ?? 0);
  return { count, offsets: lines.map((l) => Number(l) - 1) };
}

/** Content and metadata of every file of the ext4 file system at `offset`, one line each. */
async function rootListing(raw: string, part: Partition, mnt: string): Promise<Map<string, string>> {
  await fs.mkdir(mnt, { recursive: true });
  await run("mount", ["-o", `ro,noload,loop,offset=${part.start},sizelimit=${part.size}`, "-t", "ext4", raw, mnt]);
  try {
    const { stdout } = await run(
      "sh",
      [
        "-c",
        'cd "$1" && find . -printf "%p %m %U:%G %s %T@ %A@ %C@ %l\\n" | sort && find . -type f -print0 | sort -z | xargs -0 sha256sum',
        "sh",
        mnt,
      ],
      { maxBuffer: 256 * 1024 * 1024 },
    );
    const out = new Map<string, string>();
    for (const line of stdout.split("\n").filter(Boolean)) {
      const m = /^([0-9a-f]{64}) {2}(.*)$/.exec(line);
      if (m) out.set(`${m[2]} content`, m[1]!);
      else out.set(`${line.split(" ")[0]} stat`, line.slice(line.indexOf(" ") + 1));
    }
    return out;
  } finally {
    await run("umount", [mnt]);
  }
}

const image = await cachedPodvmImage({ log: (l) => process.stderr.write(`${l}\n`) });
const work = await fs.mkdtemp(path.join(process.env.TMPDIR ?? "/var/tmp", "podvm-repro-"));
try {
  const second = path.join(work, "out");
  const t0 = performance.now();
  process.stderr.write(`second build of ${image.hash} in ${second} (log ${work}/build.log)\n`);
  await buildInto(second, path.join(work, "build.log"), "raw");
  const buildS = (performance.now() - t0) / 1000;
  const a = image.raw;
  const b = path.join(second, "podvm.raw");
  const [ha, hb] = await Promise.all([sha256(a), sha256(b)]);
  console.log(`first:  ${ha} ${a}`);
  console.log(`second: ${hb} ${b}`);
  let differing = 0;
  if (ha !== hb) {
    const diff = await differingOffsets(a, b);
    differing = diff.count;
    const parts = await partitions(a);
    const where = new Map<string, number>();
    for (const o of diff.offsets) {
      const p = parts.find((x) => o >= x.start && o < x.start + x.size);
      where.set(p?.name ?? "outside the partitions", (where.get(p?.name ?? "outside the partitions") ?? 0) + 1);
    }
    console.log(
      `${diff.count} bytes differ; of the first ${diff.offsets.length}: ${[...where].map(([k, v]) => `${k} ${v}`).join(", ")}`,
    );
    const root = parts.find((p) => p.name === "root");
    if (root !== undefined && where.has("root")) {
      const [la, lb] = [
        await rootListing(a, root, path.join(work, "a")),
        await rootListing(b, root, path.join(work, "b")),
      ];
      const keys = [...new Set([...la.keys(), ...lb.keys()])].sort();
      const changed = keys.filter((k) => la.get(k) !== lb.get(k));
      console.log(`root file system: ${changed.length} differences in files (content or stat):`);
      for (const k of changed.slice(0, 60)) console.log(`  ${k}: ${la.get(k) ?? "-"}  |  ${lb.get(k) ?? "-"}`);
    }
  }
  console.log(
    `RESULT podvm_raw_reproducible=${ha === hb ? 1 : 0} podvm_second_build_s=${buildS.toFixed(0)} differing_bytes=${differing}`,
  );
  if (ha !== hb) process.exitCode = 1;
} finally {
  if (process.env.KEEP_PODVM_REPRO === undefined) await fs.rm(work, { recursive: true, force: true });
  else process.stderr.write(`kept ${work}\n`);
}
