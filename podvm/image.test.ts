// The peer-pod image as podvm/build.sh makes it (the cached CI build, minimal agent): each
// format is what its cloud expects (qemu-img's own reading), podvm.json tells the truth
// about the files, the disk is GPT with an EFI system partition that boots systemd-boot, and
// the root file system has no way to log in.
import { execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { cachedPodvmImage, type PodvmImage } from "./cached-build.ts";

const run = promisify(execFile);
const MiB = 1024 * 1024;
let image: PodvmImage;

beforeAll(async () => {
  image = await cachedPodvmImage({ log: (l) => process.stderr.write(`${l}\n`) });
}, 3_600_000);

async function info(
  file: string,
  format?: string,
): Promise<{ format: string; "virtual-size": number; "format-specific"?: { data?: Record<string, unknown> } }> {
  const { stdout } = await run("qemu-img", ["info", "--output=json", ...(format ? ["-f", format] : []), file]);
  return JSON.parse(stdout) as never;
}

async function sha256(file: string): Promise<string> {
  const h = createHash("sha256");
  for await (const c of createReadStream(file)) h.update(c as Buffer);
  return h.digest("hex");
}

/** A file of the root partition, read with debugfs without mounting anything. */
async function rootFile(raw: string, rootOffset: number, file: string): Promise<string> {
  const { stdout } = await run("debugfs", ["-R", `cat ${file}`, `${raw}?offset=${rootOffset}`], {
    maxBuffer: 64 * MiB,
  });
  return stdout;
}

/** The byte offset of the root partition (the second of the GPT) in the raw disk. */
async function rootOffsetOf(raw: string): Promise<number> {
  const { stdout } = await run("sfdisk", ["--json", raw]);
  const parts = (JSON.parse(stdout) as { partitiontable: { partitions: { start: number }[] } }).partitiontable
    .partitions;
  return parts[1]!.start * 512;
}

/** True when the ELF executable asks for no program interpreter (statically linked). */
function isStaticElf(elf: Buffer): boolean {
  if (elf.subarray(0, 4).toString("latin1") !== "\x7fELF" || elf[4] !== 2) return false;
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const phentsize = elf.readUInt16LE(0x36);
  const phnum = elf.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) if (elf.readUInt32LE(phoff + i * phentsize) === 3) return false; // PT_INTERP
  return true;
}

async function rootStat(raw: string, rootOffset: number, file: string): Promise<string> {
  const { stdout, stderr } = await run("debugfs", ["-R", `stat ${file}`, `${raw}?offset=${rootOffset}`]);
  return stdout + stderr;
}

describe("the peer-pod image", () => {
  it("comes as raw, qcow2, fixed VHD and OVA of one virtual size, a whole number of MiB", async () => {
    const raw = await info(image.raw, "raw");
    expect(raw.format).toBe("raw");
    expect(raw["virtual-size"] % MiB).toBe(0);
    const qcow2 = await info(image.qcow2);
    expect(qcow2.format).toBe("qcow2");
    expect(qcow2["virtual-size"]).toBe(raw["virtual-size"]);
    // Azure wants a fixed VHD: the raw bytes plus a 512-byte footer, virtual size unchanged.
    // (qemu-img's probe takes a fixed VHD for raw, the footer being at the end: named here.)
    const vhd = await info(image.vhd, "vpc");
    expect(vhd.format).toBe("vpc");
    expect(vhd["virtual-size"]).toBe(raw["virtual-size"]);
    expect((await fs.stat(image.vhd)).size).toBe(raw["virtual-size"] + 512);
    const tail = Buffer.alloc(512);
    const fh = await fs.open(image.vhd, "r");
    await fh.read(tail, 0, 512, raw["virtual-size"]);
    await fh.close();
    expect(tail.subarray(0, 8).toString("latin1")).toBe("conectix");
    expect(tail.readUInt32BE(60)).toBe(2); // disk type 2: fixed
    // qemu-img compares the two images' contents.
    await run("qemu-img", ["compare", "-f", "raw", "-F", "qcow2", image.raw, image.qcow2]);
  });

  it("packs the OVA as OVF descriptor first, manifest, then a stream-optimised VMDK of the disk", async () => {
    const { stdout } = await run("tar", ["-tf", image.ova]);
    expect(stdout.trim().split("\n")).toEqual(["podvm.ovf", "podvm.mf", "podvm-disk1.vmdk"]);
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "podvm-ova-"));
    try {
      await run("tar", ["-xf", image.ova, "-C", dir]);
      const vmdk = await info(path.join(dir, "podvm-disk1.vmdk"));
      expect(vmdk.format).toBe("vmdk");
      expect(vmdk["format-specific"]?.data?.["create-type"]).toBe("streamOptimized");
      expect(vmdk["virtual-size"]).toBe((await info(image.raw, "raw"))["virtual-size"]);
      const mf = await fs.readFile(path.join(dir, "podvm.mf"), "utf8");
      for (const f of ["podvm.ovf", "podvm-disk1.vmdk"])
        expect(mf).toContain(`SHA256(${f})= ${await sha256(path.join(dir, f))}`);
      const ovf = await fs.readFile(path.join(dir, "podvm.ovf"), "utf8");
      expect(ovf).toContain(`ovf:capacity="${vmdk["virtual-size"]}"`);
      expect(ovf).toContain('vmw:key="firmware" vmw:value="efi"');
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it("lists every output with its sha256 and size, and what it was built from, in podvm.json", async () => {
    const m = JSON.parse(await fs.readFile(image.manifest, "utf8")) as {
      files: Record<string, { sha256: string; size: number }>;
      kernel: string;
      kataAgent: string;
      debianArchiveDate: string;
      forwarder: { size: number };
    };
    expect(Object.keys(m.files).sort()).toEqual(["podvm.ova", "podvm.qcow2", "podvm.raw", "podvm.vhd"]);
    for (const [name, f] of Object.entries(m.files)) {
      const file = path.join(image.dir, name);
      expect({ name, sha256: await sha256(file), size: (await fs.stat(file)).size }).toEqual({ name, ...f });
    }
    expect(m.kernel).toMatch(/^6\.1\.\d+.*-cloud-amd64$/);
    expect(m.kataAgent).toMatch(/-minimal$/);
    expect(Date.parse(m.debianArchiveDate)).toBeGreaterThan(Date.parse("2023-06-01"));
    expect(m.forwarder.size).toBeGreaterThan(10 * MiB);
  });

  it("is a GPT disk whose EFI system partition boots systemd-boot into the cloud kernel, with no login anywhere", async () => {
    const { stdout } = await run("sfdisk", ["--json", image.raw]);
    const table = (
      JSON.parse(stdout) as {
        partitiontable: {
          label: string;
          sectorsize?: number;
          partitions: { start: number; size: number; type: string; uuid: string }[];
        };
      }
    ).partitiontable;
    expect(table.label).toBe("gpt");
    const [esp, root, bios] = table.partitions;
    expect(esp?.type).toBe("C12A7328-F81F-11D2-BA4B-00A0C93EC93B");
    expect(root?.type).toBe("4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709");
    // BIOS: GRUB's boot sector in the protective MBR points at its core image, which fills the
    // start of the BIOS boot partition (before the ESP).
    expect(bios).toMatchObject({ type: "21686148-6E49-6F70-744E-656564454649", start: 34 });
    expect(bios!.start + bios!.size).toBeLessThanOrEqual(esp!.start);
    const head = Buffer.alloc(512 * 36);
    const disk = await fs.open(image.raw, "r");
    await disk.read(head, 0, head.length, 0);
    await disk.close();
    expect(head.readUInt16LE(510)).toBe(0xaa55);
    expect(head[0x1c2]).toBe(0xee); // the protective partition entry stays
    expect(head.subarray(0, 440)).not.toEqual(Buffer.alloc(440));
    expect(head.readBigUInt64LE(0x5c)).toBe(34n);
    const core = head.subarray(34 * 512, 35 * 512);
    expect(core.readBigUInt64LE(0x1f4)).toBe(35n);
    expect(core.readUInt16LE(0x1fc)).toBeGreaterThan(0);
    const espOffset = esp!.start * 512;
    const env = { ...process.env, MTOOLS_SKIP_CHECK: "1" };
    const dir = await run("mdir", ["-b", "-s", "-i", `${image.raw}@@${espOffset}`, "::"], { env });
    expect(dir.stdout).toContain("::/EFI/BOOT/BOOTX64.EFI");
    const entry = await run("mtype", ["-i", `${image.raw}@@${espOffset}`, "::/loader/entries/podvm.conf"], { env });
    expect(entry.stdout).toContain(`root=PARTUUID=${root!.uuid.toLowerCase()}`);
    expect(entry.stdout).toContain("console=ttyS0");
    const rootOffset = root!.start * 512;
    // Root is locked (no password), no getty, no sshd.
    expect(
      (await rootFile(image.raw, rootOffset, "/etc/shadow")).split("\n").find((l) => l.startsWith("root:")),
    ).toMatch(/^root:[!*]/);
    expect(await rootStat(image.raw, rootOffset, "/usr/sbin/sshd")).toMatch(/File not found/);
    expect(await rootStat(image.raw, rootOffset, "/etc/systemd/system/getty.target")).toMatch(
      /Fast link dest: "\/dev\/null"|\/dev\/null/,
    );
    // The forwarder is one executable; the units start it after provisioning.
    expect(await rootStat(image.raw, rootOffset, "/usr/local/bin/agent-protocol-forwarder")).toMatch(/Mode:\s+0755/);
    expect(await rootFile(image.raw, rootOffset, "/etc/systemd/system/agent-protocol-forwarder.service")).toContain(
      "Requires=podvm-provision.service",
    );
  });

  it("carries the pause bundle kata-agent starts each pod's sandbox container from", async () => {
    const rootOffset = await rootOffsetOf(image.raw);
    const config = JSON.parse(await rootFile(image.raw, rootOffset, "/pause_bundle/config.json")) as {
      ociVersion: string;
      process: { args: string[]; cwd: string; user: { uid: number; gid: number } };
      root: { path: string };
    };
    expect(config.ociVersion).toMatch(/^1\.\d+\.\d+$/);
    expect(config.process.args).toEqual(["/pause"]);
    expect(config.process.cwd).toBe("/");
    expect(config.process.user.uid).toBeGreaterThan(0);
    expect(config.root.path).toBe("rootfs");
    expect(await rootStat(image.raw, rootOffset, "/pause_bundle/rootfs/pause")).toMatch(/Type: regular\s+Mode:\s+0755/);
    // The binary itself: statically linked (the bundle holds no libraries), and it runs:
    // it waits until SIGTERM and then exits 0.
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "podvm-pause-"));
    try {
      const pause = path.join(dir, "pause");
      await run("debugfs", ["-R", `dump /pause_bundle/rootfs/pause ${pause}`, `${image.raw}?offset=${rootOffset}`]);
      expect(isStaticElf(await fs.readFile(pause))).toBe(true);
      await fs.chmod(pause, 0o755);
      const child = spawn(pause, [], { stdio: "ignore" });
      const exited = new Promise<[number | null, string | null]>((resolve) =>
        child.once("exit", (code, signal) => resolve([code, signal])),
      );
      // Once it catches SIGTERM (bit 15 of the kernel's caught-signal mask), it is waiting.
      const catchesTerm = async () => {
        const status = await fs.readFile(`/proc/${child.pid}/status`, "utf8").catch(() => "");
        const mask = /^SigCgt:\s+([0-9a-f]+)$/m.exec(status)?.[1];
        return mask !== undefined && (BigInt(`0x${mask}`) & (1n << 14n)) !== 0n;
      };
      while (child.exitCode === null && !(await catchesTerm())) await new Promise((r) => setTimeout(r, 20));
      expect(child.exitCode).toBeNull();
      child.kill("SIGTERM");
      expect(await exited).toEqual([0, null]);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
