import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { decodeInitdata, parseInitdata } from "./index.ts";

const sha256Doc = 'version = "0.1.0"\nalgorithm = "sha256"\n[data]\n"aa.toml" = "x"\n';
const sha384Doc = 'version = "0.1.0"\nalgorithm = "sha384"\n[data]\n"aa.toml" = "x"\n';

describe("initdata", () => {
  it("reads plain, base64 and gzip+base64 alike", () => {
    expect(decodeInitdata(sha256Doc)).toBe(sha256Doc);
    expect(decodeInitdata(Buffer.from(sha256Doc).toString("base64"))).toBe(sha256Doc);
    expect(decodeInitdata(gzipSync(sha256Doc).toString("base64"))).toBe(sha256Doc);
  });

  it("digests the TOML bytes with its algorithm (sha256sum / sha384sum of the same text)", () => {
    expect(parseInitdata(sha256Doc).digest.toString("hex")).toBe(
      "040ca9c9b34b963c759b608550047d613265fa056fb182e1b020bf79bc0f6a95",
    );
    expect(parseInitdata(gzipSync(sha384Doc).toString("base64")).digest.toString("hex")).toBe(
      "cabe8965db13a85166f1fc8ecafc9d85dc31a9718242e7e80fcab0f77457ad919f24fb2842c2eeeeb6ca4ff906a22164",
    );
    expect(parseInitdata(sha256Doc.replace("sha256", "sha512")).digest).toHaveLength(64);
  });

  it("keeps [data]'s files", () => {
    const doc = `version = "0.1.0"\nalgorithm = "sha384"\n[data]\n"aa.toml" = '''\n[token_configs]\n'''\n"policy.rego" = "package agent_policy\\n"\n`;
    expect(parseInitdata(doc).data).toEqual({
      "aa.toml": "[token_configs]\n",
      "policy.rego": "package agent_policy\n",
    });
  });

  it("names what is wrong", () => {
    const bad = (text: string) => () => parseInitdata(text);
    expect(bad("")).toThrow("initdata: empty");
    expect(bad("version = ")).toThrow(/initdata: not a TOML document at line 1/);
    expect(bad('algorithm = "sha256"\n[data]\n')).toThrow('initdata: version is missing; expected "0.1.0"');
    expect(bad('version = "9"\nalgorithm = "sha256"\n[data]\n')).toThrow(
      'initdata: version "9" is not supported; expected "0.1.0"',
    );
    expect(bad('version = "0.1.0"\nalgorithm = "sha1"\n[data]\n')).toThrow(
      'initdata: algorithm is "sha1"; expected one of sha256, sha384, sha512',
    );
    expect(bad('version = "0.1.0"\nalgorithm = "sha256"\n')).toThrow("initdata: has no [data] table");
    expect(bad('version = "0.1.0"\nalgorithm = "sha256"\ndata = 3\n')).toThrow(
      "initdata: data is a number; expected a table",
    );
    expect(bad('version = "0.1.0"\nalgorithm = "sha256"\n[data]\n"aa.toml" = 1\n')).toThrow(
      'initdata: data."aa.toml" is a number; expected a string',
    );
    expect(bad(Buffer.from([0x1f, 0x8b, 1, 2, 3]).toString("base64"))).toThrow(/gzip\+base64 that does not unzip/);
  });
});
