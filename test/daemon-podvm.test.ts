// The peer-pod image podvm/build.sh makes (minimal agent), uploaded to a real libvirtd pool
// with `peerpod-ctl image upload libvirt`, booted as built by the libvirt provider through the
// daemon: UEFI firmware, systemd-boot, Debian's cloud kernel, systemd, the provisioner reading
// the NoCloud cidata volume, then kata-agent and the forwarder (mutual TLS). A pod runs
// `echo hello` via `peerpod-ctl run`; the same pod with initdata, booted by BIOS this time
// (LIBVIRT_EFI_FIRMWARE=none: SeaBIOS, GRUB from the BIOS boot partition), finds its files and
// digest in the VM. Afterwards no domain, volume, lease or UEFI variable store of these VMs
// remains.
// Emulated (TCG): KVM hangs on this machine.
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { cachedPodvmImage, type PodvmImage } from "../podvm/cached-build.ts";
import { Hypervisor } from "../src/gen/hypervisor_pb.js";
import { onHypervisor } from "../src/hypervisor/index.ts";
import { vmNameFor } from "../src/sandbox/vm-name.ts";
import { Code } from "../src/ttrpc/index.ts";
import { clusterMark, startDaemon } from "./support/daemon-process.ts";
import { useLibvirtDaemonBed } from "./support/libvirt-daemon-bed.ts";
import { ensureTestPool, leftovers, removeAll, SYSTEM_URI, TEST_NETWORK, TEST_POOL } from "./support/libvirt-host.ts";

const REPO = path.resolve(import.meta.dirname, "..");
const run = randomBytes(3).toString("hex");
const prefix = `podvm-pv${run}`;
const baseVolume = `${prefix}-base.qcow2`;
let image: PodvmImage;
const nothing = { domains: [], volumes: [], leases: [] };
const bed = useLibvirtDaemonBed({
  dirsPrefix: "caa-podvm-",
  before: async () => {
    image = await cachedPodvmImage({ log: (l) => process.stderr.write(`${l}\n`) });
  },
  prepare: ensureTestPool,
  removeLeft: (client) => removeAll(client, prefix),
  setUpMs: 3_600_000,
});

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [path.join(REPO, "bin/peerpod-ctl.js"), ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.once("exit", (code) => resolve({ code, stdout, stderr })));
}

const env = (extra: Record<string, string> = {}) => ({
  CLOUD_PROVIDER: "libvirt",
  LIBVIRT_URI: SYSTEM_URI,
  LIBVIRT_POOL: TEST_POOL,
  LIBVIRT_NET: TEST_NETWORK,
  LIBVIRT_VOL_NAME: baseVolume,
  LIBVIRT_DOMAIN_TYPE: "qemu",
  LIBVIRT_CPU: "2",
  LIBVIRT_MEMORY: "1024",
  // systemd on an emulated CPU takes a while to act on the power button.
  LIBVIRT_SHUTDOWN_GRACE: "60s",
  // UEFI, kernel, initrd and systemd under emulation on a loaded machine: minutes, not seconds.
  LIBVIRT_ADDRESS_TIMEOUT: "12m",
  PROXY_TIMEOUT: "15m",
  ...extra,
});

/** The VM's serial console as libvirt logged it (firmware, kernel, systemd, provisioning). */
function consoleOf(vmName: string): Promise<string> {
  return fs
    .readFile(`/var/log/libvirt/qemu/${vmName}-console.log`, "utf8")
    .catch((err: Error) => `(no console log: ${err.message})`);
}

async function expectNothingLeft(vmName: string): Promise<void> {
  // dnsmasq forgets a released lease a moment after the VM goes.
  for (let i = 0; i < 150; i++) {
    if ((await leftovers(bed.client, vmName)).leases.length === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  expect(await leftovers(bed.client, vmName)).toEqual(nothing);
  await expect(fs.access(`/var/lib/libvirt/qemu/nvram/${vmName}_VARS.fd`)).rejects.toThrow();
}

const upload = () =>
  cli(["image", "upload", "libvirt", "--uri", SYSTEM_URI, "--pool", TEST_POOL, "--name", baseVolume, image.qcow2]);
const sha256 = async (file: string) =>
  createHash("sha256")
    .update(await fs.readFile(file))
    .digest("hex");

/** Runs a pod through `peerpod-ctl run` on the daemon's socket. */
const runIn = (id: string, command: string[], flags: string[] = []) =>
  cli(["run", "--socket", bed.dirs.socketPath, "--id", id, "--timeout", "900s", ...flags, "--", ...command]);

/** Starts the daemon (with extra settings) for a pod of the test: its sandbox id and its VM's name. */
async function podOf(tag: string, extra: Record<string, string> = {}): Promise<{ id: string; vmName: string }> {
  bed.daemon = await startDaemon(bed.dirs, env(extra));
  const id = `pv${run}${tag}${randomBytes(6).toString("hex")}`;
  return {
    id,
    vmName: vmNameFor({ sandboxId: id, node: "test-node", cluster: await clusterMark(bed.dirs) }, undefined),
  };
}

describe("the peer-pod image on the libvirt provider", () => {
  it("uploads with peerpod-ctl image upload libvirt, and refuses a second upload of the same name", async () => {
    const up = await upload();
    expect(up.stderr).toContain("uploaded 100%");
    expect(up).toMatchObject({ code: 0 });
    const size = (await fs.stat(image.qcow2)).size;
    expect(up.stdout).toMatch(
      new RegExp(`^${TEST_POOL}/${baseVolume}: qcow2, virtual size \\d+ bytes, ${size} bytes uploaded\\n$`),
    );
    const pool = await bed.client.lookupStoragePoolByName(TEST_POOL);
    const vol = await bed.client.lookupStorageVolByName(pool, baseVolume);
    const volPath = await bed.client.getStorageVolPath(vol);
    expect(await sha256(volPath)).toBe(await sha256(image.qcow2));
    const again = await upload();
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`--name ${baseVolume}: pool ${TEST_POOL} already has a volume of that name`);
  }, 600_000);

  it("boots the uploaded image by UEFI and runs `echo hello` through a pod; StopVM leaves nothing", async () => {
    const { id, vmName } = await podOf("h");
    const r = await runIn(id, ["echo", "hello"]);
    const console = await consoleOf(vmName);
    expect({ code: r.code, stdout: r.stdout }, `${r.stderr}\nconsole of ${vmName}:\n${console.slice(-6000)}`).toEqual({
      code: 0,
      stdout: "hello\n",
    });
    expect(console).toContain("podvm-provision: user-data from nocloud");
    expect(console).toMatch(/"msg":"forwarder listening"/);
    expect(console).toMatch(/"tls":true/);
    await expectNothingLeft(vmName);
  }, 1_200_000);

  it("boots the image by BIOS and unpacks the pod's initdata in the VM: aa.toml, cdh.toml, policy.rego and the digest", async () => {
    const { id, vmName } = await podOf("i", { LIBVIRT_EFI_FIRMWARE: "none" });
    const initdata = `version = "0.1.0"\nalgorithm = "sha384"\n[data]\n"aa.toml" = '''\n[token_configs.kbs]\nurl = "http://kbs.example:8080"\n'''\n"cdh.toml" = "socket = 'unix:///run/confidential-containers/cdh.sock'\\n"\n"policy.rego" = "package agent_policy\\ndefault CreateContainerRequest := true\\n"\n`;
    const { gzipSync } = await import("node:zlib");
    const annotation = `io.katacontainers.config.hypervisor.cc_init_data=${gzipSync(initdata).toString("base64")}`;
    const show =
      "cat /run/peerpod/aa.toml /run/peerpod/cdh.toml /run/peerpod/policy.rego; od -An -tx1 -v /run/peerpod/initdata.digest | tr -d ' \\n'; test -d /sys/firmware/efi && echo ' uefi' || echo ' bios'";
    const r = await runIn(id, ["sh", "-c", show], ["--annotation", annotation]);
    expect(r.code, `${r.stderr}\nconsole of ${vmName}:\n${(await consoleOf(vmName)).slice(-6000)}`).toBe(0);
    const digest = createHash("sha384").update(initdata).digest("hex");
    expect(r.stdout).toBe(
      `[token_configs.kbs]\nurl = "http://kbs.example:8080"\nsocket = 'unix:///run/confidential-containers/cdh.sock'\npackage agent_policy\ndefault CreateContainerRequest := true\n${digest} bios\n`,
    );
    await expectNothingLeft(vmName);
  }, 1_200_000);

  it("fails CreateVM on invalid initdata before any VM exists", async () => {
    const { id, vmName } = await podOf("x");
    const err = await onHypervisor(bed.dirs.socketPath, (c) =>
      c.call(Hypervisor.method.createVM, {
        id,
        annotations: {
          "io.katacontainers.config.hypervisor.cc_init_data": 'version = "0.1.0"\nalgorithm = "sha1"\n[data]\n',
        },
        networkNamespacePath: "",
      }),
    ).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: Code.INVALID_ARGUMENT,
      message: expect.stringContaining('initdata: algorithm is "sha1"; expected one of sha256, sha384, sha512'),
    });
    expect(await leftovers(bed.client, vmName)).toEqual(nothing);
  });
});
