// The peer VM's boot-time provisioning: find the user-data the daemon wrote (from the sources
// of this platform, in order), write its files, check the forwarder's configuration carries
// the daemon's TLS material, unpack initdata, and make the pod's network namespace. Each
// source tried and why it gave nothing is reported; any failure fails the unit, so
// kata-agent and the forwarder (which require it) never start.
import fs from "node:fs/promises";
import path from "node:path";
import { gunzipSync } from "node:zlib";
import { FORWARDER_CONFIG_PATH, INITDATA_PATH, parseCloudConfig, parseForwarderConfig } from "../userdata/index.ts";
import { SourceError, type UserDataSource } from "./source-error.ts";
import { unpackInitdata } from "./unpack-initdata.ts";
import { writeProvisionedFiles } from "./write-files.ts";

export interface ProvisionOptions {
  /** Tried in order until one gives user-data. */
  readonly sources: readonly UserDataSource[];
  /** Prefix of every path written ("/" in the VM). */
  readonly root: string;
  /** How long a source that answers badly or slowly is retried. */
  readonly deadlineMs: number;
  readonly retryIntervalMs: number;
  /** Makes the pod's network namespace (skipped in tests). */
  readonly makePodNetns: (() => Promise<void>) | undefined;
  /** Folder (below `root`) where an image built for a daemon with operator certificates
   * (CACERT_FILE, CERT_FILE, CERT_KEY) holds the forwarder's: ca.crt, tls.crt, tls.key. */
  readonly imageTlsDir?: string;
  readonly report: (line: string) => void;
  readonly signal: AbortSignal;
}

export interface ProvisionResult {
  readonly source: string;
  /** Whose TLS material the forwarder serves with: the daemon's (user-data) or the image's. */
  readonly tls: "user-data" | "image";
  readonly written: string[];
  readonly initdataDigest: string | undefined;
}

export class ProvisionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProvisionError";
  }
}

export async function provision(o: ProvisionOptions): Promise<ProvisionResult> {
  const { source, bytes } = await readUserData(o);
  const text = gunzipIfNeeded(bytes, source).toString("utf8");
  let files;
  try {
    files = parseCloudConfig(text);
  } catch (err) {
    throw new ProvisionError(`user-data from ${source}: ${(err as Error).message}`);
  }
  const daemonFile = files.find((f) => f.path === FORWARDER_CONFIG_PATH);
  if (daemonFile === undefined)
    throw new ProvisionError(
      `user-data from ${source} carries no ${FORWARDER_CONFIG_PATH}: the forwarder has no configuration`,
    );
  let tls;
  try {
    tls = parseForwarderConfig(daemonFile.content).tls;
  } catch (err) {
    throw new ProvisionError(`user-data from ${source}: ${(err as Error).message}`);
  }
  let tlsFrom: ProvisionResult["tls"] = "user-data";
  if (tls === undefined) {
    // A daemon with operator certificates sends none: the forwarder's come with the image.
    const problem =
      o.imageTlsDir === undefined
        ? "the image holds no operator certificates"
        : (await imageCertificates(o.root, o.imageTlsDir)).problem;
    if (problem !== undefined)
      throw new ProvisionError(
        `user-data from ${source} carries no TLS material in ${FORWARDER_CONFIG_PATH} (is the daemon running with DISABLE_TLS?) and ${problem}: the agent is never served without it`,
      );
    o.report(
      `TLS: the daemon sent none; the forwarder serves with the image's operator certificates in ${o.imageTlsDir}`,
    );
    tlsFrom = "image";
  }
  const initdataFile = files.find((f) => f.path === INITDATA_PATH);
  let written: string[];
  try {
    written = await writeProvisionedFiles(files, o.root);
  } catch (err) {
    throw new ProvisionError(`user-data from ${source}: ${(err as Error).message}`);
  }
  let initdataDigest: string | undefined;
  if (initdataFile !== undefined) {
    try {
      const unpacked = await unpackInitdata(initdataFile.content, o.root);
      written.push(...unpacked.written);
      initdataDigest = `${unpacked.initdata.algorithm}:${unpacked.initdata.digest.toString("hex")}`;
    } catch (err) {
      // The forwarder's configuration must not outlive a refusal.
      await fs.rm(path.join(o.root, FORWARDER_CONFIG_PATH), { force: true });
      throw new ProvisionError(`user-data from ${source}: ${(err as Error).message}`);
    }
  }
  if (o.makePodNetns !== undefined) await o.makePodNetns();
  return { source, tls: tlsFrom, written, initdataDigest };
}

export const IMAGE_TLS_FILES = { caCert: "ca.crt", cert: "tls.crt", key: "tls.key" } as const;

/** The image's operator certificates, or what is wrong with them. */
async function imageCertificates(root: string, dir: string): Promise<{ problem?: string }> {
  const want: [string, RegExp, string][] = [
    [IMAGE_TLS_FILES.caCert, /-----BEGIN CERTIFICATE-----/, "a PEM CA certificate"],
    [IMAGE_TLS_FILES.cert, /-----BEGIN CERTIFICATE-----/, "a PEM certificate"],
    [IMAGE_TLS_FILES.key, /-----BEGIN [A-Z ]*PRIVATE KEY-----/, "a PEM private key"],
  ];
  const problems: string[] = [];
  let present = 0;
  for (const [name, pem, what] of want) {
    const file = path.posix.join(dir, name);
    const text = await fs.readFile(path.join(root, file), "utf8").catch(() => undefined);
    if (text === undefined) problems.push(`${file} is missing`);
    else if (!pem.test(text)) problems.push(`${file} is not ${what}`);
    if (text !== undefined) present++;
  }
  if (problems.length === 0) return {};
  if (present === 0) return { problem: `the image holds no operator certificates in ${dir}` };
  return { problem: `the image's operator certificates are incomplete: ${problems.join(", ")}` };
}

async function readUserData(o: ProvisionOptions): Promise<{ source: string; bytes: Buffer }> {
  if (o.sources.length === 0) throw new ProvisionError("no user-data source to try on this platform");
  const until = Date.now() + o.deadlineMs;
  const last = new Map<string, string>();
  for (let round = 1; ; round++) {
    let retry = false;
    for (const s of o.sources) {
      if (round > 1 && !last.get(s.name)?.startsWith("failed")) continue;
      try {
        const bytes = await s.read(o.signal);
        o.report(`user-data from ${s.name} (${bytes.length} bytes)`);
        return { source: s.name, bytes };
      } catch (err) {
        if (!(err instanceof SourceError)) throw err;
        last.set(s.name, `${err.reason}: ${err.message}`);
        o.report(`${s.name}: ${err.reason}: ${err.message}`);
        if (err.reason === "failed") retry = true;
      }
    }
    if (!retry || Date.now() + o.retryIntervalMs > until) break;
    await new Promise((r) => setTimeout(r, o.retryIntervalMs));
    o.signal.throwIfAborted();
  }
  throw new ProvisionError(`no user-data: ${[...last].map(([name, why]) => `${name} (${why})`).join("; ")}`);
}

function gunzipIfNeeded(bytes: Buffer, source: string): Buffer {
  if (bytes.length < 2 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes;
  try {
    return gunzipSync(bytes);
  } catch (err) {
    throw new ProvisionError(`user-data from ${source} is gzip that does not unzip: ${(err as Error).message}`);
  }
}
