import { createPublicKey } from "node:crypto";
import { describe, expect, it } from "vitest";
import { parseSshPublicKey, throwawaySshPublicKey } from "./ssh-key.ts";

/** Reads an OpenSSH ssh-rsa line back into its exponent and modulus. */
function rsaParts(line: string): { e: Buffer; n: Buffer } {
  const blob = Buffer.from(line.split(" ")[1]!, "base64");
  const fields: Buffer[] = [];
  for (let at = 0; at < blob.length; ) {
    const len = blob.readUInt32BE(at);
    fields.push(blob.subarray(at + 4, at + 4 + len));
    at += 4 + len;
  }
  expect(fields[0]!.toString()).toBe("ssh-rsa");
  return { e: fields[1]!, n: fields[2]! };
}

describe("SSH public keys", () => {
  it("makes a throwaway RSA key in OpenSSH form that is a real 2048-bit key", async () => {
    const line = await throwawaySshPublicKey();
    expect(line).toMatch(/^ssh-rsa [A-Za-z0-9+/]+=* peerpod-no-login$/);
    const { e, n } = rsaParts(line);
    // mpint: a leading zero byte keeps the modulus positive.
    expect(n[0]).toBe(0);
    const key = createPublicKey({
      key: { kty: "RSA", n: n.subarray(1).toString("base64url"), e: e.toString("base64url") },
      format: "jwk",
    });
    expect(key.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(key.asymmetricKeyDetails?.publicExponent).toBe(65537n);
    expect(await throwawaySshPublicKey()).not.toBe(line);
  });

  it("finds the key line in an authorized_keys text and refuses anything else", async () => {
    const line = await throwawaySshPublicKey("me@host");
    expect(parseSshPublicKey(`\n# comment\n${line}\n`)).toBe(line);
    expect(
      parseSshPublicKey("-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----"),
    ).toBeUndefined();
    // The blob must start with the same key type as the line.
    expect(parseSshPublicKey(line.replace("ssh-rsa", "ssh-ed25519"))).toBeUndefined();
    expect(parseSshPublicKey("")).toBeUndefined();
  });
});
