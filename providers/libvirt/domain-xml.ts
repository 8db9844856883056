// The peer VM's libvirt domain: its disk (overlay volume) and cidata volume by pool and
// name, one virtio NIC on the network with a MAC chosen up front (its DHCP lease is looked
// up by it), the ownership metadata, and KVM or emulation. UEFI firmware (the podvm image),
// BIOS, or direct kernel boot (development images).
import { randomBytes } from "node:crypto";
import type { DirectKernelBoot } from "./config.ts";
import { ownershipMetadataXml, type VmMarks } from "./ownership-metadata.ts";
import { xmlEscape } from "./xml-text.ts";

export interface DomainSpec {
  readonly name: string;
  readonly type: "kvm" | "qemu";
  readonly vcpus: number;
  readonly memoryMiB: number;
  readonly pool: string;
  readonly diskVolume: string;
  readonly cidataVolume: string;
  readonly network: string;
  readonly marks: VmMarks;
  readonly kernelBoot: DirectKernelBoot | undefined;
  /** UEFI firmware code when the disk boots by UEFI (ignored with direct kernel boot). */
  readonly efiFirmware: string | undefined;
  /** Host CPUs the vCPUs may run on (LIBVIRT_CPUSET), libvirt's syntax. */
  readonly cpuset?: string | undefined;
  /** File the serial console is logged to, if any. */
  readonly consoleLog: string | undefined;
}

/** A locally administered MAC in QEMU's 52:54:00 range. */
export function randomMac(): string {
  const b = randomBytes(3);
  return `52:54:00:${[...b].map((x) => x.toString(16).padStart(2, "0")).join(":")}`;
}

/** OVMF_CODE*.fd ships with its variable store template OVMF_VARS*.fd beside it. */
export function efiVarsTemplate(code: string): string | undefined {
  const base = code.slice(code.lastIndexOf("/") + 1);
  if (!base.includes("CODE")) return undefined;
  return code.slice(0, code.length - base.length) + base.replace("CODE", "VARS");
}

export function domainXml(s: DomainSpec): string {
  const e = xmlEscape;
  const os: string[] = ["    <type arch='x86_64'>hvm</type>"];
  if (s.kernelBoot !== undefined) {
    os.push(`    <kernel>${e(s.kernelBoot.kernel)}</kernel>`);
    if (s.kernelBoot.initrd !== undefined) os.push(`    <initrd>${e(s.kernelBoot.initrd)}</initrd>`);
    if (s.kernelBoot.cmdline !== undefined) os.push(`    <cmdline>${e(s.kernelBoot.cmdline)}</cmdline>`);
  } else {
    if (s.efiFirmware !== undefined) {
      os.push(`    <loader readonly='yes' type='pflash'>${e(s.efiFirmware)}</loader>`);
      // The VM's own variable store, from the firmware's template; removed with the domain.
      const vars = efiVarsTemplate(s.efiFirmware);
      os.push(vars === undefined ? "    <nvram/>" : `    <nvram template='${e(vars)}'/>`);
    }
    os.push("    <boot dev='hd'/>");
  }
  const serialLog = s.consoleLog === undefined ? "" : `<log file='${e(s.consoleLog)}' append='off'/>`;
  return [
    `<domain type='${s.type}'>`,
    `  <name>${e(s.name)}</name>`,
    "  <metadata>",
    `    ${ownershipMetadataXml(s.marks)}`,
    "  </metadata>",
    `  <memory unit='MiB'>${s.memoryMiB}</memory>`,
    `  <vcpu placement='static'${s.cpuset === undefined ? "" : ` cpuset='${e(s.cpuset)}'`}>${s.vcpus}</vcpu>`,
    "  <os>",
    ...os,
    "  </os>",
    "  <features><acpi/><apic/></features>",
    // Emulation gets QEMU's default CPU model; KVM passes the host's through.
    ...(s.type === "kvm" ? ["  <cpu mode='host-passthrough'/>"] : []),
    "  <on_poweroff>destroy</on_poweroff>",
    "  <on_reboot>restart</on_reboot>",
    "  <on_crash>destroy</on_crash>",
    "  <devices>",
    "    <disk type='volume' device='disk'>",
    "      <driver name='qemu' type='qcow2'/>",
    `      <source pool='${e(s.pool)}' volume='${e(s.diskVolume)}'/>`,
    "      <target dev='vda' bus='virtio'/>",
    "    </disk>",
    "    <disk type='volume' device='disk'>",
    "      <driver name='qemu' type='raw'/>",
    `      <source pool='${e(s.pool)}' volume='${e(s.cidataVolume)}'/>`,
    "      <target dev='vdb' bus='virtio'/>",
    "      <readonly/>",
    "    </disk>",
    "    <interface type='network'>",
    `      <mac address='${e(s.marks.mac)}'/>`,
    `      <source network='${e(s.network)}'/>`,
    "      <model type='virtio'/>",
    "    </interface>",
    `    <serial type='pty'>${serialLog}</serial>`,
    "    <console type='pty'><target type='serial'/></console>",
    "    <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>",
    "    <memballoon model='none'/>",
    "  </devices>",
    "</domain>",
  ].join("\n");
}
