import { XMLParser } from "fast-xml-parser";
import { describe, expect, it } from "vitest";
import { type DomainSpec, domainXml, randomMac } from "./domain-xml.ts";
import { ownershipMetadataXml, parseOwnershipMetadata } from "./ownership-metadata.ts";
import { overlayVolumeXml, parseVolumeXml } from "./volume-xml.ts";

const marks = {
  owner: { sandboxId: "sb'1", node: "node<a>", cluster: 'c&"x"' },
  token: "tok",
  mac: "52:54:00:01:02:03",
};
const spec: DomainSpec = {
  name: "podvm-abc",
  type: "qemu",
  vcpus: 2,
  memoryMiB: 1024,
  pool: "default",
  diskVolume: "podvm-abc.qcow2",
  cidataVolume: "podvm-abc-cidata.img",
  network: "default",
  marks,
  kernelBoot: undefined,
  efiFirmware: undefined,
  consoleLog: "/var/log/libvirt/qemu/podvm-abc-console.log",
};
const parse = (xml: string) =>
  new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "@" }).parse(xml) as { domain: Record<string, any> };

describe("peer VM domain XML", () => {
  it("describes disk, seed, NIC and size, and keeps every value intact through escaping", () => {
    const xml = domainXml(spec);
    const d = parse(xml).domain;
    expect(d["@type"]).toBe("qemu");
    expect(d.vcpu["#text"]).toBe(2);
    expect(d.memory).toMatchObject({ "#text": 1024, "@unit": "MiB" });
    expect(d.os.boot).toEqual({ "@dev": "hd" });
    expect(d.cpu).toBeUndefined();
    expect(d.devices.disk.map((k: any) => [k.source["@volume"], k.target["@dev"], "readonly" in k])).toEqual([
      ["podvm-abc.qcow2", "vda", false],
      ["podvm-abc-cidata.img", "vdb", true],
    ]);
    expect(d.devices.interface.mac["@address"]).toBe(marks.mac);
    expect(d.devices.serial.log["@file"]).toBe(spec.consoleLog);
    // The metadata element reads back exactly, special characters and all.
    const meta = /<metadata>\s*([\s\S]*?)\s*<\/metadata>/.exec(xml)![1]!;
    expect(parseOwnershipMetadata(meta)).toEqual(marks);
  });

  it("boots a kernel directly when told, and passes the host CPU through under KVM", () => {
    const d = parse(
      domainXml({
        ...spec,
        type: "kvm",
        consoleLog: undefined,
        kernelBoot: { kernel: "/k", initrd: "/i", cmdline: "console=ttyS0 a=<b>" },
      }),
    ).domain;
    expect(d.os).toMatchObject({ kernel: "/k", initrd: "/i", cmdline: "console=ttyS0 a=<b>" });
    expect(d.os.boot).toBeUndefined();
    expect(d.cpu).toEqual({ "@mode": "host-passthrough" });
    expect(d.devices.serial).toEqual({ "@type": "pty" });
  });

  it("boots the disk by UEFI with the firmware's own variable store when given firmware, and ignores it for a direct kernel boot", () => {
    const d = parse(domainXml({ ...spec, efiFirmware: "/usr/share/OVMF/OVMF_CODE_4M.fd" })).domain;
    expect(d.os.loader).toEqual({ "#text": "/usr/share/OVMF/OVMF_CODE_4M.fd", "@readonly": "yes", "@type": "pflash" });
    expect(d.os.nvram).toEqual({ "@template": "/usr/share/OVMF/OVMF_VARS_4M.fd" });
    expect(d.os.boot).toEqual({ "@dev": "hd" });
    expect(parse(domainXml({ ...spec, efiFirmware: "/fw/edk2.bin" })).domain.os.nvram).toBe("");
    const direct = parse(
      domainXml({
        ...spec,
        efiFirmware: "/usr/share/OVMF/OVMF_CODE_4M.fd",
        kernelBoot: { kernel: "/k", initrd: undefined, cmdline: undefined },
      }),
    ).domain;
    expect(direct.os.loader).toBeUndefined();
    expect(parse(domainXml(spec)).domain.os.loader).toBeUndefined();
  });

  it("refuses values XML cannot carry", () => {
    expect(() => domainXml({ ...spec, name: "bad\u0001name" })).toThrow(/control characters/);
  });

  it("pins the vCPUs to LIBVIRT_CPUSET when set", () => {
    expect(parse(domainXml({ ...spec, cpuset: "0-3,^2" })).domain.vcpu).toEqual({
      "#text": 2,
      "@placement": "static",
      "@cpuset": "0-3,^2",
    });
    expect(parse(domainXml(spec)).domain.vcpu).toEqual({ "#text": 2, "@placement": "static" });
  });

  it("sizes the disk overlay to LIBVIRT_ROOT_DISK_SIZE, never below its base volume", () => {
    const base = { path: "/var/lib/libvirt/images/podvm-base.qcow2", format: "qcow2", capacityBytes: 2n * 1024n ** 3n };
    expect(parseVolumeXml(overlayVolumeXml("d.qcow2", base, 10n * 1024n ** 3n)).capacityBytes).toBe(10n * 1024n ** 3n);
    expect(parseVolumeXml(overlayVolumeXml("d.qcow2", base, 1024n ** 3n)).capacityBytes).toBe(base.capacityBytes);
    expect(parseVolumeXml(overlayVolumeXml("d.qcow2", base, 0n)).capacityBytes).toBe(base.capacityBytes);
  });

  it("picks MACs in QEMU's locally administered range", () => {
    const macs = new Set(Array.from({ length: 50 }, () => randomMac()));
    for (const m of macs) expect(m).toMatch(/^52:54:00(:[0-9a-f]{2}){3}$/);
    expect(macs.size).toBeGreaterThan(45);
  });

  it("ignores metadata that lacks a mark", () => {
    expect(parseOwnershipMetadata(ownershipMetadataXml(marks).replace(/ token="[^"]*"/, ""))).toBeUndefined();
    expect(parseOwnershipMetadata("<other/>")).toBeUndefined();
    expect(parseOwnershipMetadata("<<<")).toBeUndefined();
  });
});

describe("volume XML", () => {
  it("backs the overlay with the base volume and reads capacities in any unit", () => {
    expect(
      overlayVolumeXml("v.qcow2", { path: "/p/base.qcow2", format: "qcow2", capacityBytes: 10n ** 10n }),
    ).toContain("<backingStore><path>/p/base.qcow2</path><format type='qcow2'/></backingStore>");
    expect(
      parseVolumeXml(
        "<volume><capacity unit='bytes'>123</capacity><target><path>/a</path><format type='qcow2'/></target></volume>",
      ),
    ).toEqual({ capacityBytes: 123n, format: "qcow2", path: "/a" });
    expect(parseVolumeXml("<volume><capacity unit='GiB'>2</capacity><target/></volume>")).toEqual({
      capacityBytes: 2n * 1024n ** 3n,
      format: "raw",
      path: undefined,
    });
    expect(() => parseVolumeXml("<pool/>")).toThrow(/without <volume>/);
  });
});
