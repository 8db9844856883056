import fs from "node:fs/promises";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { InvalidConfigError, renderSpecMarkdown } from "../../src/config/index.ts";
import { findProvider } from "../index.ts";
import { libvirtConfigSpec, libvirtProviderConfig } from "./config.ts";

/** What reading `env` throws (undefined when it reads fine). */
function configError(env: Record<string, string>): unknown {
  try {
    libvirtProviderConfig(env);
  } catch (e) {
    return e;
  }
  return undefined;
}

describe("libvirt provider configuration", () => {
  it("defaults to upstream's values", () => {
    expect(libvirtProviderConfig({})).toEqual({
      uri: "qemu:///system",
      pool: "default",
      network: "default",
      volumeName: "podvm.qcow2",
      cpu: 2,
      memoryMiB: 8192,
      maxCpu: 16,
      maxMemoryMiB: 65536,
      domainType: "auto",
      kernelBoot: undefined,
      efiFirmware: "/usr/share/OVMF/OVMF_CODE_4M.fd",
      addressTimeoutMs: 300_000,
      shutdownGraceMs: 10_000,
      consoleLogDir: "/var/log/libvirt/qemu",
      rootDiskBytes: 0n,
      cpuset: undefined,
    });
  });

  it("takes upstream's LIBVIRT_ROOT_DISK_SIZE (0: the image's size) and LIBVIRT_CPUSET, refusing a malformed cpuset", () => {
    expect(libvirtProviderConfig({ LIBVIRT_ROOT_DISK_SIZE: "12", LIBVIRT_CPUSET: "0-3,8,^2" })).toMatchObject({
      rootDiskBytes: 12n * 1024n ** 3n,
      cpuset: "0-3,8,^2",
    });
    expect(() => libvirtProviderConfig({ LIBVIRT_ROOT_DISK_SIZE: "-5" })).toThrow(
      /LIBVIRT_ROOT_DISK_SIZE="-5": expected an integer/,
    );
    expect(() => libvirtProviderConfig({ LIBVIRT_CPUSET: "all" })).toThrow(
      /LIBVIRT_CPUSET="all": expected a cpuset such as 0-3,8,\^2/,
    );
  });

  it("reads every setting", () => {
    const c = libvirtProviderConfig({
      LIBVIRT_URI: "qemu+ssh://root@10.1.2.3/system?keyfile=/etc/caa/id_ed25519",
      LIBVIRT_POOL: "pp",
      LIBVIRT_NET: "pods",
      LIBVIRT_VOL_NAME: "img.qcow2",
      LIBVIRT_CPU: "4",
      LIBVIRT_MEMORY: "2048",
      LIBVIRT_DOMAIN_TYPE: "qemu",
      LIBVIRT_KERNEL: "/boot/vmlinuz",
      LIBVIRT_INITRD: "/boot/initrd.img",
      LIBVIRT_CMDLINE: "console=ttyS0",
      LIBVIRT_ADDRESS_TIMEOUT: "90s",
      LIBVIRT_SHUTDOWN_GRACE: "0s",
      LIBVIRT_CONSOLE_LOG_DIR: "none",
      LIBVIRT_EFI_FIRMWARE: "none",
    });
    expect(c).toMatchObject({
      uri: "qemu+ssh://root@10.1.2.3/system?keyfile=/etc/caa/id_ed25519",
      cpu: 4,
      memoryMiB: 2048,
      domainType: "qemu",
      kernelBoot: { kernel: "/boot/vmlinuz", initrd: "/boot/initrd.img", cmdline: "console=ttyS0" },
      addressTimeoutMs: 90_000,
      shutdownGraceMs: 0,
      consoleLogDir: undefined,
      efiFirmware: undefined,
    });
    expect(libvirtProviderConfig({ LIBVIRT_EFI_FIRMWARE: "/usr/share/edk2/ovmf/OVMF_CODE.fd" }).efiFirmware).toBe(
      "/usr/share/edk2/ovmf/OVMF_CODE.fd",
    );
  });

  it("names every bad variable at once", () => {
    // Wrong in themselves (URI, pool) or together (memory, initrd).
    const bad = {
      LIBVIRT_URI: "qemu+tls://host/system",
      LIBVIRT_POOL: "a/b",
      LIBVIRT_MAX_MEMORY: "4096",
      LIBVIRT_INITRD: "/boot/initrd.img",
    };
    const err = configError({ ...bad, LIBVIRT_CPU: "0", LIBVIRT_MEMORY: "999999", LIBVIRT_DOMAIN_TYPE: "xen" });
    expect(err).toBeInstanceOf(InvalidConfigError);
    const text = (err as Error).message;
    for (const v of ["LIBVIRT_CPU", "LIBVIRT_DOMAIN_TYPE"]) expect(text).toContain(v);
    // Field-level problems stop first; the cross-field ones are checked on valid fields.
    const second = configError({ ...bad, LIBVIRT_MEMORY: "8192", LIBVIRT_EFI_FIRMWARE: "OVMF.fd" });
    const more = (second as Error).message;
    expect(more).toMatch(/LIBVIRT_URI.*not supported/);
    expect(more).toContain("LIBVIRT_POOL");
    expect(more).toMatch(/LIBVIRT_MEMORY.*LIBVIRT_MAX_MEMORY \(4096\)/);
    expect(more).toMatch(/LIBVIRT_INITRD.*LIBVIRT_KERNEL/);
    expect(more).toMatch(/LIBVIRT_EFI_FIRMWARE.*"OVMF.fd".*absolute path of UEFI firmware/);
  });

  it("is what the registry builds for CLOUD_PROVIDER=libvirt, failing at once on a bad variable", async () => {
    const factory = await findProvider("libvirt");
    const ctx = { stateDir: "/nonexistent", logger: pino({ level: "silent" }), isRoot: false };
    const provider = factory.create({ ...ctx, env: {} });
    expect(provider.name).toBe("libvirt");
    await provider.close();
    expect(() => factory.create({ ...ctx, env: { LIBVIRT_URI: "qemu+tls://h/system" } })).toThrow(/LIBVIRT_URI/);
  });

  it("is documented in the README, variable by variable", async () => {
    const docs = await fs.readFile(new URL("./README.md", import.meta.url), "utf8");
    expect(docs).toContain(renderSpecMarkdown(libvirtConfigSpec));
  });
});
