import { describe, expect, it } from "vitest";
import { checkUpstreamSettings } from "./check-upstream.ts";

const check = (env: Record<string, string>, provider = "aws", developmentMode = false) =>
  checkUpstreamSettings({ env, provider, developmentMode });

describe("checkUpstreamSettings", () => {
  it("says nothing about unset, empty or default-valued upstream settings", () => {
    expect(
      check({
        TUNNEL_TYPE: "",
        SECURE_COMMS: "false",
        ENABLE_SCRATCH_SPACE: "0",
        SECURE_COMMS_KBS_ADDR: "kbs-service.trustee-operator-system:8080",
        CLOUD_CONFIG_VERIFY: "False",
      }),
    ).toEqual([]);
    expect(check({ TUNNEL_TYPE: "vxlan", POD_SUBNET_CIDRS: "  " })).toEqual([]);
  });

  it("warns once per unsupported setting with a non-default value, naming it, its value and what happens instead", () => {
    const findings = check({
      TUNNEL_TYPE: "routing",
      POD_SUBNET_CIDRS: "10.0.0.0/8",
      EXTERNAL_NETWORK_VIA_PODVM: "true",
    });
    expect(findings.map((f) => [f.level, f.variable])).toEqual([
      ["warn", "TUNNEL_TYPE"],
      ["warn", "EXTERNAL_NETWORK_VIA_PODVM"],
      ["warn", "POD_SUBNET_CIDRS"],
    ]);
    expect(findings[0]!.message).toBe(
      'TUNNEL_TYPE="routing": upstream setting not supported; pods are always connected to their VM with a VXLAN tunnel',
    );
  });

  it("refuses settings whose absence would weaken security", () => {
    const findings = check({
      SECURE_COMMS: "true",
      ENABLE_SCRATCH_SPACE: "1",
      CLOUD_CONFIG_VERIFY: "T",
      TLS_SKIP_VERIFY: "true",
    });
    expect(findings.map((f) => [f.level, f.variable])).toEqual([
      ["error", "CLOUD_CONFIG_VERIFY"],
      ["error", "ENABLE_SCRATCH_SPACE"],
      ["error", "TLS_SKIP_VERIFY"],
      ["error", "SECURE_COMMS"],
    ]);
    expect(findings[2]!.message).toMatch(
      /^TLS_SKIP_VERIFY="true": refused: skipping certificate verification lets anyone on the path pose as a peer VM/,
    );
  });

  it("lets TLS_SKIP_VERIFY pass with a warning only in the explicit development mode (DISABLE_TLS)", () => {
    expect(check({ TLS_SKIP_VERIFY: "true" }, "aws", true)).toEqual([
      {
        level: "warn",
        variable: "TLS_SKIP_VERIFY",
        message: 'TLS_SKIP_VERIFY="true": ignored, DISABLE_TLS=true already turns TLS off (development mode)',
      },
    ]);
    // Development mode does not soften other refusals.
    expect(check({ SECURE_COMMS: "true" }, "aws", true).map((f) => f.level)).toEqual(["error"]);
  });

  it("treats a value that is not a Go boolean as non-default", () => {
    expect(check({ SECURE_COMMS_NO_TRUSTEE: "yes" }).map((f) => f.variable)).toEqual(["SECURE_COMMS_NO_TRUSTEE"]);
  });

  it("looks only at the running provider's upstream settings", () => {
    expect(check({ ENABLE_SECURE_BOOT: "true" }, "azure")).toEqual([]);
    expect(check({ PAUSE_IMAGE: "pause:3.9" }, "libvirt").map((f) => f.variable)).toEqual(["PAUSE_IMAGE"]);
    expect(check({ GOVC_DRS: "true" }, "libvirt")).toEqual([]);
    // libvirt's upstream default for DISABLECVM is true; the clouds' is false.
    expect(check({ DISABLECVM: "true" }, "libvirt")).toEqual([]);
    expect(check({ DISABLECVM: "false" }, "aws")).toEqual([]);
  });
});
