import { describe, expect, it } from "vitest";
import { credentialsOfSecret, mergeCredentials, type PullSecret, PullSecretError, parseAuthFile } from "./auth-file.ts";

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
const auth = (user: string, pass: string) => b64(`${user}:${pass}`);

function dockerConfigJson(name: string, auths: Record<string, unknown>) {
  return {
    name,
    type: "kubernetes.io/dockerconfigjson",
    data: { ".dockerconfigjson": b64(JSON.stringify({ auths })) },
  };
}
function dockercfg(name: string, registries: Record<string, unknown>) {
  return { name, type: "kubernetes.io/dockercfg", data: { ".dockercfg": b64(JSON.stringify(registries)) } };
}

describe("pull secrets to containers-auth.json", () => {
  it("reads kubernetes.io/dockerconfigjson: auth kept, username/password turned into auth, identity tokens kept", () => {
    const creds = credentialsOfSecret(
      dockerConfigJson("s", {
        "a.example": { auth: auth("alice", "pw:with:colons") },
        "b.example": { username: "bob", password: "secret", email: "b@example" },
        "c.example": { identitytoken: "tok" },
      }),
    );
    expect(Object.fromEntries(creds)).toEqual({
      "a.example": { auth: auth("alice", "pw:with:colons") },
      "b.example": { auth: auth("bob", "secret") },
      "c.example": { identitytoken: "tok" },
    });
  });

  it("reads legacy kubernetes.io/dockercfg", () => {
    const creds = credentialsOfSecret(
      dockercfg("old", { "https://index.docker.io/v1/": { auth: auth("u", "p"), email: "x" } }),
    );
    expect(Object.fromEntries(creds)).toEqual({ "https://index.docker.io/v1/": { auth: auth("u", "p") } });
  });

  it("refuses other types and malformed secrets, naming what is wrong but no secret bytes", () => {
    const cases: PullSecret[] = [
      { name: "opaque", type: "Opaque", data: { password: b64("hunter2") } },
      { name: "nokey", type: "kubernetes.io/dockerconfigjson", data: {} },
      { name: "notjson", type: "kubernetes.io/dockerconfigjson", data: { ".dockerconfigjson": b64("hunter2 {") } },
      {
        name: "noauths",
        type: "kubernetes.io/dockerconfigjson",
        data: { ".dockerconfigjson": b64(JSON.stringify({ hunter2: {} })) },
      },
      dockerConfigJson("empty-entry", { "r.example": { email: "hunter2@example" } }),
      dockerConfigJson("bad-auth", { "r.example": { auth: b64("hunter2") } }),
      dockercfg("cfg-list", ["hunter2"] as unknown as Record<string, unknown>),
    ];
    const messages = cases.map((secret) => {
      try {
        credentialsOfSecret(secret);
        return "accepted";
      } catch (err) {
        expect(err).toBeInstanceOf(PullSecretError);
        return (err as Error).message;
      }
    });
    expect(messages).toEqual([
      'its type is "Opaque", expected kubernetes.io/dockerconfigjson or kubernetes.io/dockercfg',
      'it has no data key ".dockerconfigjson"',
      'its ".dockerconfigjson" is not base64-encoded JSON',
      'its ".dockerconfigjson" has no "auths" object',
      'the entry for registry "r.example" has neither "auth", "username"/"password" nor "identitytoken"',
      'the "auth" of registry "r.example" is not base64 of user:password',
      'its ".dockercfg" is not an object of registries',
    ]);
    for (const m of messages) expect(m).not.toContain("hunter2");
  });

  it("merges in order: the first source naming a registry wins", () => {
    const pod = new Map([["r.example", { auth: auth("pod", "1") }]]);
    const account = new Map([
      ["r.example", { auth: auth("account", "2") }],
      ["other.example", { auth: auth("account", "3") }],
    ]);
    expect(mergeCredentials([pod, account])).toEqual({
      auths: { "r.example": { auth: auth("pod", "1") }, "other.example": { auth: auth("account", "3") } },
    });
    expect(mergeCredentials([])).toEqual({ auths: {} });
  });

  it("checks a containers-auth.json file", () => {
    expect(parseAuthFile(JSON.stringify({ auths: { "r.example": { auth: auth("u", "p") } } }))).toEqual({
      auths: { "r.example": { auth: auth("u", "p") } },
    });
    expect(() => parseAuthFile("{")).toThrow("is not JSON");
    expect(() => parseAuthFile("{}")).toThrow('has no "auths" object');
    expect(() => parseAuthFile(JSON.stringify({ auths: { r: {} } }))).toThrow('registry "r"');
  });
});
