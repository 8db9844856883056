// The vSphere settings: govc's names and URL forms, errors naming the variable, secrets never
// shown, and the TLS trust the switches select.
import fs from "node:fs";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { InvalidConfigError, renderSpecMarkdown } from "../../src/config/index.ts";
import { findProvider } from "../index.ts";
import { vsphereConfigSpec, vsphereProviderConfig } from "./config.ts";

const BASE = {
  GOVC_URL: "vcenter.example.com",
  GOVC_USERNAME: "peerpods@vsphere.local",
  GOVC_PASSWORD: "s3cret!",
  GOVC_DATACENTER: "DC0",
};

function problems(env: Record<string, string | undefined>): InvalidConfigError {
  try {
    vsphereProviderConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidConfigError);
    return err as InvalidConfigError;
  }
  throw new Error("configuration unexpectedly accepted");
}

describe("vSphere configuration", () => {
  it("fills govc's defaults: https, /sdk, the podvm-template, chain checking", () => {
    const c = vsphereProviderConfig(BASE);
    expect(c.sdkUrl.href).toBe("https://vcenter.example.com/sdk");
    expect(c).toMatchObject({
      username: "peerpods@vsphere.local",
      password: "s3cret!",
      datacenter: "DC0",
      template: "podvm-template",
      trust: { mode: "verify" },
    });
    expect([c.datastore, c.folder, c.cluster, c.host]).toEqual([undefined, undefined, undefined, undefined]);
  });

  it("keeps an explicit path and port, and takes credentials from the URL as govc does", () => {
    const c = vsphereProviderConfig({
      GOVC_URL: "https://admin%40corp:p%40ss@vc.example.com:8443/custom/sdk",
      GOVC_DATACENTER: "DC0",
    });
    expect(c.sdkUrl.href).toBe("https://vc.example.com:8443/custom/sdk");
    expect(c.username).toBe("admin@corp");
    expect(c.password).toBe("p@ss");
    // The variables win over the URL's credentials.
    expect(vsphereProviderConfig({ ...BASE, GOVC_URL: "https://a:b@vc.example.com" })).toMatchObject({
      username: BASE.GOVC_USERNAME,
      password: BASE.GOVC_PASSWORD,
    });
  });

  it("names every missing required variable at once", () => {
    const err = problems({});
    expect(err.errors.map((e) => ("variable" in e ? e.variable : ""))).toEqual(["GOVC_URL", "GOVC_DATACENTER"]);
    const creds = problems({ GOVC_URL: "vc.example.com", GOVC_DATACENTER: "DC0" });
    expect(creds.message).toContain("GOVC_USERNAME: required but not set");
    expect(creds.message).toContain("GOVC_PASSWORD: required but not set");
  });

  it("rejects a URL that is not http(s) without showing its credentials", () => {
    const err = problems({ ...BASE, GOVC_URL: "ftp://root:hunter2@vc.example.com/sdk" });
    expect(err.message).toContain("GOVC_URL=");
    expect(err.message).toContain("an http(s) URL");
    expect(err.message).not.toContain("hunter2");
  });

  it("pins a certificate by thumbprint, refuses a malformed one, and refuses pin plus insecure", () => {
    const sha1 = "2C:11:ED:D7:13:87:7D:B5:74:18:B8:1C:42:C2:56:1F:0D:B9:5B:B9";
    expect(vsphereProviderConfig({ ...BASE, GOVC_THUMBPRINT: sha1 }).trust).toEqual({ mode: "pin", thumbprint: sha1 });
    expect(vsphereProviderConfig({ ...BASE, GOVC_THUMBPRINT: "ab".repeat(32) }).trust).toMatchObject({ mode: "pin" });
    expect(problems({ ...BASE, GOVC_THUMBPRINT: "2C:11:ED" }).message).toMatch(
      /GOVC_THUMBPRINT="2C:11:ED": expected a SHA-1/,
    );
    expect(problems({ ...BASE, GOVC_THUMBPRINT: sha1, GOVC_INSECURE: "true" }).message).toContain("GOVC_INSECURE");
    expect(vsphereProviderConfig({ ...BASE, GOVC_INSECURE: "1" }).trust).toEqual({ mode: "insecure" });
    expect(problems({ ...BASE, GOVC_INSECURE: "maybe" }).message).toContain('GOVC_INSECURE="maybe"');
  });

  it("never shows the password, even when it is what is wrong", () => {
    const err = problems({ ...BASE, GOVC_PASSWORD: undefined, GOVC_URL: "vc.example.com", GOVC_DATACENTER: undefined });
    expect(err.message).not.toContain(BASE.GOVC_PASSWORD);
    expect(vsphereConfigSpec.password.secret).toBe(true);
  });

  it("documents every variable in the README table", () => {
    const table = renderSpecMarkdown(vsphereConfigSpec);
    for (const name of [
      "GOVC_URL",
      "GOVC_USERNAME",
      "GOVC_PASSWORD",
      "GOVC_DATACENTER",
      "GOVC_TEMPLATE",
      "GOVC_DATASTORE",
      "GOVC_FOLDER",
      "GOVC_VCLUSTER",
      "GOVC_HOST",
      "GOVC_THUMBPRINT",
      "GOVC_INSECURE",
    ]) {
      expect(table).toContain(`| \`${name}\` |`);
    }
    expect(table).toContain("| `GOVC_TEMPLATE` |  | `podvm-template` |");
    const readme = fs.readFileSync(new URL("./README.md", import.meta.url), "utf8");
    expect(readme).toContain(table);
  });

  it("is what the registry builds for CLOUD_PROVIDER=vsphere, failing at once on a bad variable", async () => {
    const factory = await findProvider("vsphere");
    const ctx = { stateDir: "/nonexistent", logger: pino({ level: "silent" }), isRoot: false };
    const p = factory.create({ ...ctx, env: BASE });
    expect(p.name).toBe("vsphere");
    await p.close(); // never logged in: nothing to end
    expect(() => factory.create({ ...ctx, env: {} })).toThrow(/GOVC_URL/);
  });
});
