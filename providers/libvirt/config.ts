// The libvirt provider's settings, under upstream's peer-pods-cm names (LIBVIRT_URI, _POOL,
// _NET, _VOL_NAME, _CPU, _MEMORY, _EFI_FIRMWARE) plus the few this provider adds (limits, direct kernel
// boot for development images, how long to wait for an address and for a clean shutdown).
import {
  boolField,
  ConfigError,
  type ConfigOf,
  durationField,
  enumField,
  InvalidConfigError,
  intField,
  loadConfig,
  stringField,
} from "../../src/config/index.ts";
import { type ConfidentialRequest, LAUNCH_SECURITY_TYPES } from "./launch-security.ts";
import { LibvirtUriError, parseLibvirtUri } from "./rpc/index.ts";

export const libvirtConfigSpec = Object.freeze({
  uri: stringField({
    env: "LIBVIRT_URI",
    default: "qemu:///system",
    description:
      "libvirt connection URI: qemu:///system (local socket), qemu+unix:///system?socket=PATH, qemu+tcp://HOST/system, qemu+ssh://USER@HOST/system?keyfile=PATH&no_verify=1.",
  }),
  pool: stringField({
    env: "LIBVIRT_POOL",
    default: "default",
    description: "Storage pool holding the base volume; each peer VM's disk and cidata volume are created in it.",
  }),
  network: stringField({
    env: "LIBVIRT_NET",
    default: "default",
    description: "libvirt network the peer VMs join; its DHCP server gives them the address the daemon reaches.",
  }),
  volumeName: stringField({
    env: "LIBVIRT_VOL_NAME",
    default: "podvm.qcow2",
    description:
      "Base volume (the peer-pod image podvm/build.sh makes, uploaded with peerpod-ctl image upload libvirt) in LIBVIRT_POOL; each VM's disk is a copy-on-write qcow2 over it. The pod's image annotation, when set, names another volume of the pool.",
  }),
  cpu: intField({
    env: "LIBVIRT_CPU",
    default: "2",
    min: 1,
    max: 1024,
    description: "vCPUs of a peer VM when the pod asks for none (default_vcpus annotation).",
  }),
  memory: intField({
    env: "LIBVIRT_MEMORY",
    default: "8192",
    min: 64,
    max: 16 * 1024 * 1024,
    description: "Memory of a peer VM in MiB when the pod asks for none (default_memory annotation).",
  }),
  maxCpu: intField({
    env: "LIBVIRT_MAX_CPU",
    default: "16",
    min: 1,
    max: 1024,
    description: "Most vCPUs a pod may ask for; a larger default_vcpus fails the pod naming the limit.",
  }),
  maxMemory: intField({
    env: "LIBVIRT_MAX_MEMORY",
    default: "65536",
    min: 64,
    max: 16 * 1024 * 1024,
    description: "Most memory (MiB) a pod may ask for; a larger default_memory fails the pod naming the limit.",
  }),
  domainType: enumField({
    env: "LIBVIRT_DOMAIN_TYPE",
    default: "auto",
    values: ["auto", "kvm", "qemu"] as const,
    description:
      "kvm (hardware virtualisation), qemu (emulation, slow) or auto: kvm when the host's capabilities offer it.",
  }),
  efiFirmware: stringField({
    env: "LIBVIRT_EFI_FIRMWARE",
    default: "/usr/share/OVMF/OVMF_CODE_4M.fd",
    description:
      'UEFI firmware (code) on the libvirt host the base volume boots with (the podvm/ image boots by UEFI); its variable store comes from the matching VARS file and is deleted with the VM. "none": BIOS. Not used with LIBVIRT_KERNEL.',
  }),
  rootDiskSizeGiB: intField({
    env: "LIBVIRT_ROOT_DISK_SIZE",
    // Upstream's default is 10; 0 here, so a pool without 10 GiB free per VM still works.
    default: "0",
    min: 0,
    max: 65536,
    description:
      "Size of each peer VM's disk in GiB (a copy-on-write overlay, so it costs only what the VM writes); the base volume's size when that is larger, or when 0.",
  }),
  launchSecurity: enumField({
    env: "LIBVIRT_LAUNCH_SECURITY",
    values: LAUNCH_SECURITY_TYPES,
    description:
      "Confidential guest technology (sev, sev-snp, tdx, s390-pv). Confidential libvirt guests are not implemented: set, start-up stops, saying whether the host's domain capabilities offer it.",
  }),
  disableCvm: boolField({
    env: "DISABLECVM",
    default: "true",
    description:
      "Ordinary guests (upstream's default for libvirt). false asks for confidential guests, which stops start-up, saying whether the host offers any.",
  }),
  cpuset: stringField({
    env: "LIBVIRT_CPUSET",
    description: "Host CPUs the peer VMs' vCPUs may run on, in libvirt's cpuset syntax (e.g. 0-3,8,^2); unset: any.",
  }),
  kernel: stringField({
    env: "LIBVIRT_KERNEL",
    description:
      "Direct kernel boot (development images): path of the kernel on the libvirt host; unset: the base volume boots itself.",
  }),
  initrd: stringField({
    env: "LIBVIRT_INITRD",
    description: "Direct kernel boot: path of the initrd on the libvirt host (needs LIBVIRT_KERNEL).",
  }),
  cmdline: stringField({
    env: "LIBVIRT_CMDLINE",
    description: "Direct kernel boot: kernel command line (needs LIBVIRT_KERNEL), e.g. console=ttyS0.",
  }),
  addressTimeoutMs: durationField({
    env: "LIBVIRT_ADDRESS_TIMEOUT",
    default: "5m",
    minMs: 1000,
    description:
      "How long a new VM may take to get its address from the network's DHCP (within StartVM's own deadline).",
  }),
  shutdownGraceMs: durationField({
    env: "LIBVIRT_SHUTDOWN_GRACE",
    default: "10s",
    description:
      "At delete, how long the VM may take to power off after an ACPI shutdown (releasing its DHCP lease) before it is destroyed; 0s destroys at once.",
  }),
  consoleLogDir: stringField({
    env: "LIBVIRT_CONSOLE_LOG_DIR",
    default: "/var/log/libvirt/qemu",
    description:
      'Folder on the libvirt host where each VM\'s serial console is logged (<vm>-console.log); "none" logs nothing.',
  }),
});

export type LibvirtDomainType = "auto" | "kvm" | "qemu";

export interface DirectKernelBoot {
  readonly kernel: string;
  readonly initrd: string | undefined;
  readonly cmdline: string | undefined;
}

export interface LibvirtProviderConfig {
  readonly uri: string;
  readonly pool: string;
  readonly network: string;
  readonly volumeName: string;
  readonly cpu: number;
  readonly memoryMiB: number;
  readonly maxCpu: number;
  readonly maxMemoryMiB: number;
  readonly domainType: LibvirtDomainType;
  readonly kernelBoot: DirectKernelBoot | undefined;
  /** UEFI firmware code path, or undefined for BIOS. */
  readonly efiFirmware: string | undefined;
  readonly addressTimeoutMs: number;
  readonly shutdownGraceMs: number;
  readonly consoleLogDir: string | undefined;
  /** LIBVIRT_ROOT_DISK_SIZE in bytes; 0: the base volume's size. */
  readonly rootDiskBytes: bigint;
  readonly cpuset: string | undefined;
  /** The confidential guest asked for (DISABLECVM=false or LIBVIRT_LAUNCH_SECURITY), if any. */
  readonly confidential: ConfidentialRequest | undefined;
}

// libvirt's cpuset syntax: CPU numbers and ranges, some excluded with ^.
const CPUSET = /^\^?\d+(-\d+)?(,\^?\d+(-\d+)?)*$/;
// libvirt object names: no slash (pools and volumes are files), no control characters.
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is its job
const OBJECT_NAME = /^[^/\s\x00-\x1f][^/\x00-\x1f]{0,254}$/;

export function libvirtProviderConfig(env: Readonly<Record<string, string | undefined>>): LibvirtProviderConfig {
  const c: ConfigOf<typeof libvirtConfigSpec> = loadConfig(libvirtConfigSpec, { env, argv: [] });
  const problems: ConfigError[] = [];
  const bad = (variable: string, value: string, expected: string) =>
    problems.push(new ConfigError({ variable, value, expected, source: "env" }));
  try {
    parseLibvirtUri(c.uri);
  } catch (err) {
    if (!(err instanceof LibvirtUriError)) throw err;
    bad(
      "LIBVIRT_URI",
      c.uri,
      err.message.replace(/^libvirt URI "[^"]*": /, "a libvirt URI with a supported transport (unix, tcp, ssh): "),
    );
  }
  for (const [variable, value] of [
    ["LIBVIRT_POOL", c.pool],
    ["LIBVIRT_NET", c.network],
    ["LIBVIRT_VOL_NAME", c.volumeName],
  ] as const) {
    if (!OBJECT_NAME.test(value)) bad(variable, value, "a libvirt object name (no '/', no control characters)");
  }
  if (c.cpu > c.maxCpu) bad("LIBVIRT_CPU", String(c.cpu), `at most LIBVIRT_MAX_CPU (${c.maxCpu})`);
  if (c.memory > c.maxMemory) bad("LIBVIRT_MEMORY", String(c.memory), `at most LIBVIRT_MAX_MEMORY (${c.maxMemory})`);
  if (c.kernel === undefined) {
    if (c.initrd !== undefined) bad("LIBVIRT_INITRD", c.initrd, "unset unless LIBVIRT_KERNEL is set");
    if (c.cmdline !== undefined) bad("LIBVIRT_CMDLINE", c.cmdline, "unset unless LIBVIRT_KERNEL is set");
  } else {
    if (!c.kernel.startsWith("/")) bad("LIBVIRT_KERNEL", c.kernel, "an absolute path on the libvirt host");
    if (c.initrd !== undefined && !c.initrd.startsWith("/"))
      bad("LIBVIRT_INITRD", c.initrd, "an absolute path on the libvirt host");
  }
  if (c.efiFirmware !== "none" && !c.efiFirmware.startsWith("/"))
    bad(
      "LIBVIRT_EFI_FIRMWARE",
      c.efiFirmware,
      'an absolute path of UEFI firmware on the libvirt host, or "none" for BIOS',
    );
  if (!c.consoleLogDir.startsWith("/") && c.consoleLogDir !== "none")
    bad("LIBVIRT_CONSOLE_LOG_DIR", c.consoleLogDir, 'an absolute path on the libvirt host, or "none"');
  if (c.cpuset !== undefined && !CPUSET.test(c.cpuset))
    bad("LIBVIRT_CPUSET", c.cpuset, "a cpuset such as 0-3,8,^2 (CPU numbers, ranges, ^exclusions, comma-separated)");
  if (problems.length > 0) throw new InvalidConfigError(problems);
  return {
    uri: c.uri,
    pool: c.pool,
    network: c.network,
    volumeName: c.volumeName,
    cpu: c.cpu,
    memoryMiB: c.memory,
    maxCpu: c.maxCpu,
    maxMemoryMiB: c.maxMemory,
    domainType: c.domainType,
    kernelBoot: c.kernel === undefined ? undefined : { kernel: c.kernel, initrd: c.initrd, cmdline: c.cmdline },
    efiFirmware: c.efiFirmware === "none" ? undefined : c.efiFirmware,
    addressTimeoutMs: c.addressTimeoutMs,
    shutdownGraceMs: c.shutdownGraceMs,
    consoleLogDir: c.consoleLogDir === "none" ? undefined : c.consoleLogDir,
    rootDiskBytes: BigInt(c.rootDiskSizeGiB) * 1024n ** 3n,
    cpuset: c.cpuset,
    confidential:
      c.launchSecurity !== undefined
        ? { variable: "LIBVIRT_LAUNCH_SECURITY", type: c.launchSecurity }
        : c.disableCvm
          ? undefined
          : { variable: "DISABLECVM", type: undefined },
  };
}
