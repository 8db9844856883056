// The provisioner's vSphere path: the guestinfo keys exactly as the vSphere provider writes
// them into a VM's extraConfig, read back through a vmware-rpctool with the real tool's
// command line and output (test/support/vmware-rpctool-standin.ts), then provisioned as in
// the VM. Also unset keys, another encoding, an unknown one, no VMware and no rpctool.
import fs from "node:fs/promises";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { guestExtraConfig } from "../../providers/vsphere/guest-config.ts";
import { testForwarderConfig } from "../../test/support/forwarder-config.ts";
import { useTestScope } from "../../test/support/test-scope.ts";
import { buildUserData } from "../userdata/index.ts";
import { provision } from "./provision.ts";
import { vsphereGuestinfoSource } from "./vsphere-guestinfo.ts";

const scope = useTestScope("guestinfo");
const STANDIN = path.resolve(import.meta.dirname, "../../test/support/vmware-rpctool-standin.ts");
const config = testForwarderConfig("sb-vs");
const owner = { sandboxId: "sb-vs", node: "n1", cluster: "c1" };

/** An rpctool executable answering from `guestinfo` (undefined: a machine that is no VMware guest). */
async function rpctool(guestinfo: Record<string, string> | undefined): Promise<string> {
  const dir = await scope.tempDir();
  const where = guestinfo === undefined ? "--not-vmware" : path.join(dir, "guestinfo.json");
  if (guestinfo !== undefined) await fs.writeFile(where, JSON.stringify(guestinfo));
  const tool = path.join(dir, "vmware-rpctool");
  await fs.writeFile(tool, `#!/bin/sh\nexec '${process.execPath}' '${STANDIN}' '${where}' "$@"\n`, { mode: 0o755 });
  return tool;
}

async function provisionWith(
  tool: string,
): Promise<{ result?: Awaited<ReturnType<typeof provision>>; error?: Error; lines: string[]; root: string }> {
  const root = await scope.tempDir();
  const lines: string[] = [];
  try {
    const result = await provision({
      sources: [vsphereGuestinfoSource({ rpctool: tool })],
      root,
      deadlineMs: 1500,
      retryIntervalMs: 500,
      makePodNetns: undefined,
      report: (l) => lines.push(l),
      signal: AbortSignal.timeout(30_000),
    });
    return { result, lines, root };
  } catch (error) {
    return { error: error as Error, lines, root };
  }
}

describe("provisioning from vSphere guestinfo", () => {
  it("reads the user-data the vSphere provider puts in extraConfig (base64) and writes the forwarder's configuration", async () => {
    const extra = guestExtraConfig("podvm-x", "tok", owner, buildUserData(config));
    const tool = await rpctool(Object.fromEntries(extra.map((o) => [o.key, o.value])));
    const r = await provisionWith(tool);
    expect(r.error).toBeUndefined();
    expect(r.result?.source).toBe("vsphere-guestinfo");
    expect(r.lines[0]).toMatch(/^user-data from vsphere-guestinfo \(\d+ bytes\)$/);
    const daemon = path.join(r.root, "run/peerpod/daemon.json");
    expect(JSON.parse(await fs.readFile(daemon, "utf8"))).toEqual(config);
    expect((await fs.stat(daemon)).mode & 0o777).toBe(0o600);
  });

  it("takes gzip+base64 and plain user-data", async () => {
    const cases: Record<string, string>[] = [
      {
        "guestinfo.userdata": gzipSync(buildUserData(config)).toString("base64"),
        "guestinfo.userdata.encoding": "gzip+base64",
      },
      { "guestinfo.userdata": buildUserData(config).trimEnd() },
    ];
    for (const guestinfo of cases) {
      const r = await provisionWith(await rpctool(guestinfo));
      expect(r.error).toBeUndefined();
      expect(JSON.parse(await fs.readFile(path.join(r.root, "run/peerpod/daemon.json"), "utf8"))).toEqual(config);
    }
  });

  it("says guestinfo.userdata is not set, once, and writes nothing", async () => {
    const r = await provisionWith(await rpctool({ "guestinfo.metadata": "e30=" }));
    expect(r.error?.message).toBe("no user-data: vsphere-guestinfo (missing: guestinfo.userdata is not set)");
    expect(r.lines).toEqual(["vsphere-guestinfo: missing: guestinfo.userdata is not set"]);
    expect(await fs.readdir(r.root)).toEqual([]);
  });

  it("takes a VM that is no VMware guest as having no guestinfo, without retrying", async () => {
    const r = await provisionWith(await rpctool(undefined));
    expect(r.lines).toEqual([
      expect.stringMatching(
        /^vsphere-guestinfo: missing: .*vmware-rpctool info-get guestinfo\.userdata: Failed sending message to VMware\.$/,
      ),
    ]);
    expect(r.error?.message).toMatch(/^no user-data: vsphere-guestinfo \(missing: /);
  });

  it("names an encoding it does not know", async () => {
    const r = await provisionWith(
      await rpctool({ "guestinfo.userdata": "abc", "guestinfo.userdata.encoding": "uuencode" }),
    );
    expect(r.error?.message).toBe(
      'no user-data: vsphere-guestinfo (failed: guestinfo.userdata.encoding "uuencode" is not one of base64, b64, gzip+base64, gz+b64)',
    );
  });

  it("says so when vmware-rpctool is not installed", async () => {
    const r = await provisionWith(path.join(await scope.tempDir(), "no-such-rpctool"));
    expect(r.error?.message).toMatch(
      /^no user-data: vsphere-guestinfo \(missing: .*no-such-rpctool is not installed\)$/,
    );
  });
});
