import { describe, expect, it } from "vitest";
import { testForwarderConfig } from "../../test/support/forwarder-config.ts";
import {
  bootConfigFromUserData,
  buildPoolUserData,
  buildUserData,
  FORWARDER_CONFIG_PATH,
  forwarderConfigFromUserData,
  INITDATA_PATH,
  isPoolConfig,
  parseClaimRequest,
  parseCloudConfig,
} from "./index.ts";

const config = testForwarderConfig("abc", {
  caCert: "-----BEGIN CERTIFICATE-----\nx: y\n'\"#\n-----END CERTIFICATE-----\n",
  cert: "c",
  key: "k",
});

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
    const ud = buildUserData({
      ...config,
      tls: { caCert: "ca", cert: "cert", key: "-----BEGIN PRIVATE KEY-----SECRETKEY" },
    });
    expect(ud).not.toContain("SECRETKEY");
  });

  it("rejects user-data without the forwarder config or with a broken one", () => {
    expect(() => forwarderConfigFromUserData("#cloud-config\nwrite_files: []\n")).toThrow(/carries no/);
    expect(() => forwarderConfigFromUserData("hello")).toThrow(/not a #cloud-config/);
    const bad = buildUserData({ ...config, listenPort: 0 });
    expect(() => forwarderConfigFromUserData(bad)).toThrow(/listenPort/);
  });

  it("a pool VM's user-data carries its identity and the node's initdata, and reads back as a pool configuration", () => {
    const pool = { version: 1 as const, poolVm: "podvm-pool-x", listenPort: 15150, tls: config.tls! };
    const ud = buildPoolUserData(pool, "init");
    const back = bootConfigFromUserData(ud);
    expect(isPoolConfig(back)).toBe(true);
    expect(back).toEqual(pool);
    expect(parseCloudConfig(ud).map((f) => [f.path, f.permissions])).toEqual([
      [FORWARDER_CONFIG_PATH, "0600"],
      [INITDATA_PATH, "0600"],
    ]);
    expect(isPoolConfig(bootConfigFromUserData(buildUserData(config)))).toBe(false);
    expect(() => bootConfigFromUserData(buildPoolUserData({ ...pool, tls: undefined as never }))).toThrow(
      /mutual TLS only/,
    );
  });

  it("claim requests name what is wrong with them", () => {
    expect(() => parseClaimRequest({ op: "take" })).toThrow('unknown op "take"');
    expect(() =>
      parseClaimRequest({ op: "claim", poolVm: "p", sandboxId: "s", files: [{ path: "rel", content: "" }] }),
    ).toThrow("files[0] needs an absolute path");
    expect(() =>
      parseClaimRequest({
        op: "claim",
        poolVm: "p",
        sandboxId: "s",
        files: [{ path: "/a", content: "", permissions: "rwx" }],
      }),
    ).toThrow('permissions "rwx" is not an octal mode');
    expect(
      parseClaimRequest({ op: "claim", poolVm: "p", sandboxId: "s", files: [{ path: "/a", content: "x" }] }),
    ).toEqual({ op: "claim", poolVm: "p", sandboxId: "s", files: [{ path: "/a", permissions: "0644", content: "x" }] });
  });
});
