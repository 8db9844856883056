// DISABLECVM=false and LIBVIRT_LAUNCH_SECURITY: confidential libvirt guests are not made yet, so
// asking for one stops start-up (and any create), with a message built from what the host's
// domain capabilities offer. Read from documents shaped as libvirt writes them, and from the
// real libvirtd the tests start (a host with no SEV or TDX: QEMU emulation, no /dev/kvm needed).
import { randomBytes } from "node:crypto";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type LibvirtTestHost,
  leftovers,
  openLibvirtTestHost,
  type PeerVmHost,
} from "../../test/support/libvirt-host.ts";
import { rejection } from "../../test/support/provider-rejection.ts";
import { NO_RESOURCES } from "../provider.ts";
import { libvirtProviderConfig } from "./config.ts";
import { confidentialRefusal, offeredLaunchSecurity } from "./launch-security.ts";
import { LibvirtProvider } from "./provider.ts";
import type { LibvirtClient } from "./rpc/index.ts";

const NO_CVM_FEATURES = `<domainCapabilities><path>/usr/bin/qemu-system-x86_64</path><domain>kvm</domain>
<features><gic supported='no'/><vmcoreinfo supported='yes'/><genid supported='yes'/><backingStoreInput supported='yes'/>
<backup supported='yes'/><async-teardown supported='yes'/><s390-pv supported='no'/><sev supported='no'/><sgx supported='no'/>
<hyperv supported='yes'><enum name='features'><value>relaxed</value></enum></hyperv><launchSecurity supported='no'/></features></domainCapabilities>`;

const SEV_HOST = `<domainCapabilities><domain>kvm</domain><features><s390-pv supported='no'/>
<sev supported='yes'><cbitpos>51</cbitpos><reducedPhysBits>1</reducedPhysBits><maxGuests>15</maxGuests><maxESGuests>494</maxESGuests></sev>
<sgx supported='no'/><launchSecurity supported='yes'><enum name='sectype'><value>sev</value><value>sev-snp</value></enum></launchSecurity>
</features></domainCapabilities>`;

const TDX_HOST = `<domainCapabilities><features><sev supported='no'/><tdx supported='yes'/></features></domainCapabilities>`;

describe("what a libvirt host's domain capabilities offer", () => {
  it("reads SEV, SEV-SNP (newer libvirt's launchSecurity list), TDX and s390-pv", () => {
    expect(offeredLaunchSecurity(NO_CVM_FEATURES)).toEqual([]);
    expect(offeredLaunchSecurity(SEV_HOST)).toEqual(["sev", "sev-snp"]);
    expect(offeredLaunchSecurity(TDX_HOST)).toEqual(["tdx"]);
  });

  it("says whether the host lacks the technology or only this daemon cannot make the guest", () => {
    const where = "kvm/x86_64 on qemu:///system";
    expect(confidentialRefusal({ variable: "LIBVIRT_LAUNCH_SECURITY", type: "tdx" }, ["sev", "sev-snp"], where)).toBe(
      "LIBVIRT_LAUNCH_SECURITY=tdx: the libvirt host offers no Intel TDX guests (confidential guest support in its domain capabilities for kvm/x86_64 on qemu:///system: AMD SEV, AMD SEV-SNP); unset LIBVIRT_LAUNCH_SECURITY and set DISABLECVM=true to run ordinary guests",
    );
    expect(confidentialRefusal({ variable: "DISABLECVM", type: undefined }, [], where)).toBe(
      "DISABLECVM=false: the libvirt host offers no confidential guests (no SEV, SEV-SNP, TDX or s390-pv in its domain capabilities for kvm/x86_64 on qemu:///system); set DISABLECVM=true to run ordinary guests",
    );
    expect(confidentialRefusal({ variable: "LIBVIRT_LAUNCH_SECURITY", type: "sev" }, ["sev"], where)).toMatch(
      /^LIBVIRT_LAUNCH_SECURITY=sev: the libvirt host offers AMD SEV, but this daemon does not make confidential libvirt guests yet/,
    );
  });

  it("reads the settings: ordinary guests by default (upstream's DISABLECVM=true for libvirt)", () => {
    expect(libvirtProviderConfig({}).confidential).toBeUndefined();
    expect(libvirtProviderConfig({ DISABLECVM: "false" }).confidential).toEqual({
      variable: "DISABLECVM",
      type: undefined,
    });
    expect(libvirtProviderConfig({ LIBVIRT_LAUNCH_SECURITY: "sev" }).confidential).toEqual({
      variable: "LIBVIRT_LAUNCH_SECURITY",
      type: "sev",
    });
    expect(() => libvirtProviderConfig({ LIBVIRT_LAUNCH_SECURITY: "sgx" })).toThrow(/LIBVIRT_LAUNCH_SECURITY="sgx"/);
  });
});

describe("a confidential guest asked of the real libvirtd", () => {
  const logger = pino({ level: "silent" });
  const name = `podvm-cvm${randomBytes(2).toString("hex")}`;
  let lab: LibvirtTestHost | undefined;
  let client: LibvirtClient;
  let host: PeerVmHost;
  const providers: LibvirtProvider[] = [];
  const provider = (extra: Record<string, string>) => {
    const p = new LibvirtProvider(libvirtProviderConfig(host.env(extra)), { logger, leasePollMs: 500 });
    providers.push(p);
    return p;
  };

  beforeAll(async () => {
    lab = await openLibvirtTestHost();
    ({ client, host } = lab);
  }, 600_000);

  afterAll(async () => {
    for (const p of providers) await p.close();
    await lab?.release();
  });

  it("reads the host's domain capabilities through our client: this host offers no confidential guests", async () => {
    const caps = await client.getDomainCapabilities({ arch: "x86_64", virttype: "qemu" });
    expect(caps).toMatch(/<domainCapabilities>[\s\S]*<features>[\s\S]*<\/features>/);
    expect(offeredLaunchSecurity(caps)).toEqual([]);
  });

  it("stops start-up for DISABLECVM=false, naming the setting and what the host lacks", async () => {
    const err = await rejection(provider({ DISABLECVM: "false" }).check(AbortSignal.timeout(60_000)));
    expect(err.message).toContain(
      "DISABLECVM=false: the libvirt host offers no confidential guests (no SEV, SEV-SNP, TDX or s390-pv in its domain capabilities for qemu/x86_64 on qemu:///system); set DISABLECVM=true to run ordinary guests",
    );
    // The other settings are fine: that is the one problem.
    expect(err.message.split("\n")).toHaveLength(2);
  });

  it("stops start-up for LIBVIRT_LAUNCH_SECURITY=sev, and refuses a create before making anything", async () => {
    const p = provider({ LIBVIRT_LAUNCH_SECURITY: "sev" });
    expect((await rejection(p.check(AbortSignal.timeout(60_000)))).message).toMatch(
      /LIBVIRT_LAUNCH_SECURITY=sev: the libvirt host offers no AMD SEV guests/,
    );
    const create = await rejection(
      p.createVm(
        {
          name,
          token: "t",
          owner: { sandboxId: name, node: "n", cluster: "c" },
          resources: NO_RESOURCES,
          userData: "#cloud-config\n",
        },
        AbortSignal.timeout(60_000),
      ),
    );
    expect(create.message).toMatch(/LIBVIRT_LAUNCH_SECURITY=sev: the libvirt host offers no AMD SEV guests/);
    expect(await leftovers(client, name, [])).toEqual({ domains: [], volumes: [], leases: [] });
  });
});
