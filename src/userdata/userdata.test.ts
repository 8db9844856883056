import { describe, expect, it } from "vitest";
import { buildUserData, forwarderConfigFromUserData, parseCloudConfig, FORWARDER_CONFIG_PATH, type ForwarderConfig } from "./index.ts";

const config: ForwarderConfig = {
  version: 1,
  sandboxId: "abc",
  listenPort: 15150,
  tls: { caCert: "-----BEGIN CERTIFICATE-----\nx: y\n'\"#\n-----END CERTIFICATE-----\n", cert: "c", key: "k" },
  podNetwork: undefined,
};

describe("user-data", () => {
  it("is a cloud-config that writes the forwarder config 0600 and reads back identical", () => {
    const ud = buildUserData(config);
    expect(ud.startsWith("#cloud-config\n")).toBe(true);
    const files = parseCloudConfig(ud);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatchObject({ path: FORWARDER_CONFIG_PATH, permissions: "0600" });
    expect(forwarderConfigFromUserData(ud)).toEqual(config);
  });

  it("base64-encodes file contents, so PEM, quotes and colons cannot break the YAML", () => {
    const ud = buildUserData({ ...config, tls: { caCert: "ca", cert: "cert", key: "-----BEGIN PRIVATE KEY-----SECRETKEY" } });
    expect(ud).not.toContain("SECRETKEY");
  });

  it("rejects user-data without the forwarder config or with a broken one", () => {
    expect(() => forwarderConfigFromUserData("#cloud-config\nwrite_files: []\n")).toThrow(/carries no/);
    expect(() => forwarderConfigFromUserData("hello")).toThrow(/not a #cloud-config/);
    const bad = buildUserData({ ...config, listenPort: 0 });
    expect(() => forwarderConfigFromUserData(bad)).toThrow(/listenPort/);
  });
});
