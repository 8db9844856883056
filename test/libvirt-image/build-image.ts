// Builds the test peer-VM image from the host: Debian's kernel, a small initramfs (busybox
// and the kernel modules a virtio VM needs) and a root file system (busybox, the host's Node
// with its libraries, the forwarder and minimal agent with the packages they import) as a
// qcow2 base volume. Cached under <repo>/.cache/libvirt-image/<hash of the inputs>/.
//   node test/libvirt-image/build-image.ts      prints the folder

import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import { stripTypeScriptTypes } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { sourceClosure } from "./source-closure.ts";

const run = promisify(execFile);
const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, "../..");
const BUSYBOX = "/bin/busybox";
const ENTRIES = ["src/cli/agent-protocol-forwarder.ts", "src/cli/minimal-agent.ts"];
/** Modules for virtio disks and network, the root (ext4) and cidata (vfat) file systems, and
 * the power button; dependencies first. */
const MODULES = [
  "virtio_pci",
  "virtio_blk",
  "virtio_net",
  "ext4",
  "vfat",
  "nls_cp437",
  "nls_ascii",
  "nls_utf8",
  "crc32c_generic",
  "button",
  "evdev",
];

export interface PeerVmImage {
  readonly dir: string;
  readonly kernel: string;
  readonly initrd: string;
  /** qcow2 root file system, the base volume's content. */
  readonly rootfs: string;
  /** Short hash of the inputs: names the base volume so a changed image gets a new one. */
  readonly hash: string;
}

export async function buildPeerVmImage(options: { log?: (line: string) => void } = {}): Promise<PeerVmImage> {
  const log = options.log ?? (() => {});
  const kernelVersion = await newestKernel();
  const node = await fs.realpath(process.execPath);
  const closure = await sourceClosure(REPO, ENTRIES);
  const hash = await inputsHash(kernelVersion, node, closure.files, closure.packages);
  const dir = path.join(REPO, ".cache", "libvirt-image", hash);
  const image: PeerVmImage = {
    dir,
    kernel: path.join(dir, "vmlinuz"),
    initrd: path.join(dir, "initrd.img"),
    rootfs: path.join(dir, "rootfs.qcow2"),
    hash,
  };
  try {
    await fs.access(path.join(dir, "done"));
    return image;
  } catch {
    // not built yet
  }
  await fs.mkdir(path.dirname(dir), { recursive: true });
  log(`building the peer VM image in ${dir}`);
  // Built aside and renamed into place, so a reader never sees half an image.
  const work = await fs.mkdtemp(path.join(os.tmpdir(), "podvm-image-"));
  const staging = `${dir}.tmp-${process.pid}`;
  try {
    await fs.mkdir(staging, { recursive: true });
    const at = (f: string) => path.join(staging, path.basename(f));
    await fs.copyFile(`/boot/vmlinuz-${kernelVersion}`, at(image.kernel));
    await buildInitramfs(path.join(work, "initramfs"), kernelVersion, at(image.initrd));
    await buildRootfs(path.join(work, "rootfs"), node, closure, path.join(work, "rootfs.ext4"), at(image.rootfs));
    // World-readable; the emulator (libvirt-qemu) boots copies made outside the checkout
    // (test/support/libvirt-host.ts), since it may not enter the checkout's folders.
    for (const f of [image.kernel, image.initrd, image.rootfs]) await fs.chmod(at(f), 0o644);
    await fs.writeFile(path.join(staging, "done"), new Date().toISOString());
    try {
      await fs.rename(staging, dir);
    } catch (err) {
      // Another process finished the same image first: keep theirs.
      if ((err as NodeJS.ErrnoException).code !== "ENOTEMPTY" && (err as NodeJS.ErrnoException).code !== "EEXIST")
        throw err;
    }
    // Images of earlier inputs are of no further use.
    for (const other of await fs.readdir(path.dirname(dir))) {
      if (other !== hash && /^[0-9a-f]{16}$/.test(other))
        await fs.rm(path.join(path.dirname(dir), other), { recursive: true, force: true });
    }
    log("peer VM image built");
    return image;
  } finally {
    await fs.rm(work, { recursive: true, force: true });
    await fs.rm(staging, { recursive: true, force: true });
  }
}

async function newestKernel(): Promise<string> {
  const names = (await fs.readdir("/boot"))
    .filter((n) => n.startsWith("vmlinuz-"))
    .map((n) => n.slice("vmlinuz-".length));
  const usable: string[] = [];
  for (const v of names) {
    try {
      await fs.access(path.join("/lib/modules", v, "modules.dep"));
      usable.push(v);
    } catch {
      // kernel without its modules
    }
  }
  usable.sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  const v = usable.at(-1);
  if (v === undefined)
    throw new Error("no kernel in /boot with modules in /lib/modules: apt-get install linux-image-amd64");
  return v;
}

async function inputsHash(kernelVersion: string, node: string, files: string[], packages: string[]): Promise<string> {
  const h = createHash("sha256");
  h.update(kernelVersion);
  for (const f of [node, BUSYBOX]) {
    const st = await fs.stat(f);
    h.update(`${f}:${st.size}:${st.mtimeMs}`);
  }
  for (const f of await fs.readdir(HERE)) h.update(await fs.readFile(path.join(HERE, f)));
  for (const f of files) h.update(f).update(await fs.readFile(path.join(REPO, f)));
  for (const p of packages) h.update(p).update(await fs.readFile(path.join(REPO, p, "package.json")));
  return h.digest("hex").slice(0, 16);
}

async function buildInitramfs(root: string, kernelVersion: string, out: string): Promise<void> {
  await fs.mkdir(path.join(root, "bin"), { recursive: true });
  await fs.mkdir(path.join(root, "etc"), { recursive: true });
  await fs.copyFile(BUSYBOX, path.join(root, "bin/busybox"));
  await fs.copyFile(path.join(HERE, "initramfs-init.sh"), path.join(root, "init"));
  await fs.chmod(path.join(root, "init"), 0o755);
  const modRoot = path.join("/lib/modules", kernelVersion);
  const order = await moduleOrder(modRoot, MODULES);
  for (const rel of order) {
    await fs.mkdir(path.join(root, "lib/modules", path.dirname(rel)), { recursive: true });
    await fs.copyFile(path.join(modRoot, rel), path.join(root, "lib/modules", rel));
  }
  await fs.writeFile(path.join(root, "etc/modules-load"), `${order.join("\n")}\n`);
  await run("sh", ["-c", `cd "${root}" && find . | cpio -o -H newc --quiet | gzip -1 > "${out}"`]);
}

/** Module files in load order (each after its dependencies), from modules.dep. */
async function moduleOrder(modRoot: string, wanted: readonly string[]): Promise<string[]> {
  const deps = new Map<string, string[]>();
  const byName = new Map<string, string>();
  for (const line of (await fs.readFile(path.join(modRoot, "modules.dep"), "utf8")).split("\n")) {
    const [file, rest] = line.split(":");
    if (!file) continue;
    deps.set(file, (rest ?? "").trim().split(/\s+/).filter(Boolean));
    byName.set(
      path
        .basename(file)
        .replace(/\.ko(\.[a-z]+)?$/, "")
        .replace(/-/g, "_"),
      file,
    );
  }
  const out: string[] = [];
  const visit = (file: string) => {
    if (out.includes(file)) return;
    for (const d of deps.get(file) ?? []) visit(d);
    out.push(file);
  };
  for (const name of wanted) {
    const file = byName.get(name);
    // Built into this kernel: nothing to load.
    if (file !== undefined) visit(file);
  }
  if (out.some((f) => !f.endsWith(".ko")))
    throw new Error(`compressed kernel modules are not supported: ${out.find((f) => !f.endsWith(".ko"))}`);
  return out;
}

async function buildRootfs(
  root: string,
  node: string,
  closure: { files: string[]; packages: string[] },
  ext4: string,
  out: string,
): Promise<void> {
  for (const d of [
    "bin",
    "sbin",
    "etc/acpi/PWRF",
    "proc",
    "sys",
    "dev",
    "run",
    "tmp",
    "mnt",
    "usr/share/udhcpc",
    "opt/node/bin",
    "opt/caa",
  ])
    await fs.mkdir(path.join(root, d), { recursive: true });
  await fs.copyFile(BUSYBOX, path.join(root, "bin/busybox"));
  for (const tool of (await run(BUSYBOX, ["--list"])).stdout
    .split("\n")
    .filter((t) => /^[a-z0-9_.-]+$/.test(t) && t !== "busybox")) {
    await fs.symlink("busybox", path.join(root, "bin", tool));
  }
  await installScript(path.join(HERE, "rootfs-init.sh"), path.join(root, "sbin/init"));
  await installScript(path.join(HERE, "udhcpc-script.sh"), path.join(root, "usr/share/udhcpc/default.script"));
  await installScript(path.join(HERE, "power-button.sh"), path.join(root, "etc/acpi/PWRF/00000080"));
  await fs.writeFile(path.join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
  await fs.writeFile(path.join(root, "etc/group"), "root:x:0:\n");
  await fs.writeFile(path.join(root, "etc/hosts"), "127.0.0.1 localhost\n");
  // Node and the shared libraries it links.
  await fs.copyFile(node, path.join(root, "opt/node/bin/node"));
  await fs.chmod(path.join(root, "opt/node/bin/node"), 0o755);
  for (const lib of await sharedLibraries(node)) {
    const target = path.join(root, lib);
    await fs.mkdir(path.dirname(target), { recursive: true });
    await fs.copyFile(await fs.realpath(lib), target);
  }
  // The project files the two programs import, and their packages.
  // TypeScript is turned into JavaScript here, once: stripping types at every start would
  // cost the emulated VM many seconds.
  const app = path.join(root, "opt/caa");
  await fs.copyFile(path.join(REPO, "package.json"), path.join(app, "package.json"));
  for (const f of closure.files) {
    const target = path.join(app, f.replace(/\.ts$/, ".js"));
    await fs.mkdir(path.dirname(target), { recursive: true });
    const text = await fs.readFile(path.join(REPO, f), "utf8");
    await fs.writeFile(target, f.endsWith(".ts") ? toJavaScript(text, f) : text);
  }
  for (const p of closure.packages)
    await fs.cp(path.join(REPO, p), path.join(app, p), { recursive: true, dereference: true });
  const kib = Number((await run("du", ["-sk", root])).stdout.split(/\s/)[0]);
  const sizeMiB = Math.ceil((kib * 1.25) / 1024) + 64;
  await run("mke2fs", [
    "-q",
    "-F",
    "-t",
    "ext4",
    "-O",
    "^metadata_csum,^has_journal",
    "-L",
    "podvm-root",
    "-d",
    root,
    ext4,
    `${sizeMiB}M`,
  ]);
  await run("qemu-img", ["convert", "-O", "qcow2", ext4, out]);
}

/** Type-stripped source whose relative imports name the .js files. */
function toJavaScript(source: string, file: string): string {
  let js: string;
  try {
    js = stripTypeScriptTypes(source, { mode: "strip" });
  } catch (err) {
    throw new Error(`${file}: ${(err as Error).message}`, { cause: err });
  }
  return js.replace(/(from\s*|import\(\s*)(["'])(\.{1,2}\/[^"']+)\.ts\2/g, "$1$2$3.js$2");
}

async function installScript(from: string, to: string): Promise<void> {
  await fs.copyFile(from, to);
  await fs.chmod(to, 0o755);
}

async function sharedLibraries(binary: string): Promise<string[]> {
  const { stdout } = await run("ldd", [binary]);
  const libs: string[] = [];
  for (const line of stdout.split("\n")) {
    const m = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line);
    if (m) libs.push(m[1]!);
  }
  return libs;
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const image = await buildPeerVmImage({ log: (l) => process.stderr.write(`${l}\n`) });
  process.stdout.write(`${image.dir}\n`);
}
