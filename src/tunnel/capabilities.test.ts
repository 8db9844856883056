import { describe, expect, it } from "vitest";
import { missingTunnelCapabilities } from "./capabilities.ts";

const status = (capEff: string) =>
  `Name:\tnode\nCapInh:\t0000000000000000\nCapEff:\t${capEff}\nCapBnd:\t000001ffffffffff\n`;

describe("missingTunnelCapabilities", () => {
  it("finds nothing missing for root's full set", () => {
    expect(missingTunnelCapabilities(status("000001ffffffffff"))).toEqual([]);
  });

  it("names each missing capability (NET_ADMIN is bit 12, SYS_ADMIN bit 21)", () => {
    expect(missingTunnelCapabilities(status("0000000000000000"))).toEqual(["CAP_NET_ADMIN", "CAP_SYS_ADMIN"]);
    expect(missingTunnelCapabilities(status("0000000000001000"))).toEqual(["CAP_SYS_ADMIN"]);
    expect(missingTunnelCapabilities(status("0000000000200000"))).toEqual(["CAP_NET_ADMIN"]);
    expect(missingTunnelCapabilities(status("0000000000201000"))).toEqual([]);
  });

  it("refuses a status text without CapEff", () => {
    expect(() => missingTunnelCapabilities("Name:\tnode\n")).toThrow(/CapEff/);
  });
});
