// The SSH public key Azure requires for a Linux VM with password login disabled. Either the
// operator's (SSH_KEY_PATH), or a throwaway RSA key whose private half is dropped at once, so
// nobody can log in to the peer VM.
import { generateKeyPair } from "node:crypto";
import { promisify } from "node:util";

const generate = promisify(generateKeyPair);

/** Key types Azure accepts for Linux VMs. */
const KEY_LINE = /^(ssh-rsa|ssh-ed25519|ecdsa-sha2-nistp(?:256|384|521))\s+([A-Za-z0-9+/]+={0,2})(?:\s+.*)?$/;

/** The first public key line of an authorized_keys-style text, or undefined if there is none. */
export function parseSshPublicKey(text: string): string | undefined {
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const m = KEY_LINE.exec(line);
    if (m === null) return undefined;
    // The blob starts with the key type again, as an SSH string.
    const blob = Buffer.from(m[2]!, "base64");
    if (blob.length < 4) return undefined;
    const typeLength = blob.readUInt32BE(0);
    if (blob.subarray(4, 4 + typeLength).toString("latin1") !== m[1]) return undefined;
    return line;
  }
  return undefined;
}

/** A fresh RSA public key in OpenSSH form; the private key is never kept. */
export async function throwawaySshPublicKey(comment = "peerpod-no-login"): Promise<string> {
  const { publicKey } = await generate("rsa", { modulusLength: 2048 });
  const jwk = publicKey.export({ format: "jwk" });
  if (jwk.n === undefined || jwk.e === undefined)
    throw new Error("RSA public key export lacks its modulus or exponent");
  const blob = Buffer.concat([
    sshString(Buffer.from("ssh-rsa")),
    sshString(mpint(Buffer.from(jwk.e, "base64url"))),
    sshString(mpint(Buffer.from(jwk.n, "base64url"))),
  ]);
  return `ssh-rsa ${blob.toString("base64")} ${comment}`;
}

function sshString(data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  return Buffer.concat([length, data]);
}

/** SSH mpint: big-endian two's complement, so a leading byte with the top bit set gets a 0. */
function mpint(unsigned: Buffer): Buffer {
  let start = 0;
  while (start < unsigned.length - 1 && unsigned[start] === 0) start++;
  const trimmed = unsigned.subarray(start);
  return (trimmed[0]! & 0x80) !== 0 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed;
}
