// The pod's initdata (upstream's initdata spec): a TOML document with `version`, `algorithm`
// and a `[data]` table of named files (aa.toml, cdh.toml, policy.rego). It reaches the daemon
// plain, base64, or gzip then base64 (as upstream accepts), is checked at CreateVM, and is
// unpacked in the VM, where its digest (of the TOML bytes, by `algorithm`) is what
// attestation measures.
import { createHash } from "node:crypto";
import { gunzipSync } from "node:zlib";
import { parse, TomlError } from "smol-toml";

export const INITDATA_VERSION = "0.1.0";
export const INITDATA_ALGORITHMS = ["sha256", "sha384", "sha512"] as const;
export type InitdataAlgorithm = (typeof INITDATA_ALGORITHMS)[number];
/** The files of `[data]` the VM writes, each where its reader looks for it. */
export const INITDATA_FILES = {
  "aa.toml": "/run/peerpod/aa.toml",
  "cdh.toml": "/run/peerpod/cdh.toml",
  "policy.rego": "/run/peerpod/policy.rego",
} as const;
export const INITDATA_DIGEST_PATH = "/run/peerpod/initdata.digest";

export class InitdataError extends Error {
  constructor(message: string) {
    super(`initdata: ${message}`);
    this.name = "InitdataError";
  }
}

export interface Initdata {
  readonly version: string;
  readonly algorithm: InitdataAlgorithm;
  /** `[data]`: file name → content. */
  readonly data: Readonly<Record<string, string>>;
  /** The TOML document as decoded (what the digest covers). */
  readonly toml: string;
  readonly digest: Buffer;
}

const BASE64 = /^[A-Za-z0-9+/\s]+={0,2}\s*$/;

/** The TOML text of initdata given plain, base64, or gzip+base64. */
export function decodeInitdata(raw: string): string {
  const text = raw.trim();
  if (text === "") throw new InitdataError("empty");
  if (!BASE64.test(text)) return raw;
  const bytes = Buffer.from(text, "base64");
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      return gunzipSync(bytes).toString("utf8");
    } catch (err) {
      throw new InitdataError(`gzip+base64 that does not unzip: ${(err as Error).message}`);
    }
  }
  const decoded = bytes.toString("utf8");
  // A one-word TOML value is valid base64 too; only text that decodes to UTF-8 is taken.
  if (Buffer.from(decoded, "utf8").equals(bytes) && /[=[]/.test(decoded)) return decoded;
  return raw;
}

/** Parses and checks initdata; every problem names the field and what was expected. */
export function parseInitdata(raw: string): Initdata {
  const toml = decodeInitdata(raw);
  let doc: Record<string, unknown>;
  try {
    doc = parse(toml) as Record<string, unknown>;
  } catch (err) {
    const where = err instanceof TomlError ? ` at line ${err.line}, column ${err.column}` : "";
    throw new InitdataError(`not a TOML document${where}: ${(err as Error).message.split("\n")[0]}`);
  }
  const { version, algorithm, data } = doc;
  if (typeof version !== "string")
    throw new InitdataError(`version is ${describe(version)}; expected "${INITDATA_VERSION}"`);
  if (version !== INITDATA_VERSION)
    throw new InitdataError(`version "${version}" is not supported; expected "${INITDATA_VERSION}"`);
  if (typeof algorithm !== "string" || !(INITDATA_ALGORITHMS as readonly string[]).includes(algorithm)) {
    throw new InitdataError(`algorithm is ${describe(algorithm)}; expected one of ${INITDATA_ALGORITHMS.join(", ")}`);
  }
  if (data === undefined) throw new InitdataError("has no [data] table");
  if (typeof data !== "object" || data === null || Array.isArray(data) || data instanceof Date)
    throw new InitdataError(`data is ${describe(data)}; expected a table`);
  const files: Record<string, string> = {};
  for (const [name, value] of Object.entries(data)) {
    if (typeof value !== "string") throw new InitdataError(`data."${name}" is ${describe(value)}; expected a string`);
    files[name] = value;
  }
  const alg = algorithm as InitdataAlgorithm;
  return { version, algorithm: alg, data: files, toml, digest: createHash(alg).update(toml, "utf8").digest() };
}

function describe(v: unknown): string {
  if (v === undefined) return "missing";
  if (typeof v === "string") return JSON.stringify(v);
  if (Array.isArray(v)) return "an array";
  if (v instanceof Date) return "a date";
  return `a ${typeof v}`;
}
