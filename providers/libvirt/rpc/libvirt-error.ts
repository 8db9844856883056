// libvirt's errors as typed exceptions: the numeric code and domain (virErrorNumber,
// virErrorDomain) travel with the daemon's message, so callers branch on codes, not text.

import { readDomainRef, readNetworkRef } from "./remote-types.ts";
import type { XdrReader } from "./xdr-reader.ts";

/** The virErrorNumber values this client tells apart. */
export const ErrorCode = {
  internal: 1,
  noSupport: 3,
  invalidArg: 8,
  operationFailed: 9,
  xmlError: 27,
  domainExists: 28,
  operationDenied: 29,
  xmlDetail: 35,
  systemError: 38,
  rpc: 39,
  noDomain: 42,
  noNetwork: 43,
  authFailed: 45,
  noStoragePool: 49,
  noStorageVol: 50,
  operationInvalid: 55,
  configUnsupported: 67,
  operationTimeout: 68,
  invalidStream: 73,
  argumentUnsupported: 74,
  operationAborted: 78,
  noDomainMetadata: 80,
  operationUnsupported: 84,
  accessDenied: 88,
  storageVolExists: 90,
  xmlInvalidSchema: 92,
  authUnavailable: 94,
} as const;

/** Codes meaning "the object is not there". */
const NOT_FOUND: ReadonlySet<number> = new Set([
  ErrorCode.noDomain,
  ErrorCode.noNetwork,
  ErrorCode.noStoragePool,
  ErrorCode.noStorageVol,
  ErrorCode.noDomainMetadata,
]);

export class LibvirtError extends Error {
  /** virErrorNumber. */
  readonly code: number;
  /** virErrorDomain: which part of libvirt raised it. */
  readonly domain: number;
  readonly level: number;
  /** The procedure that failed, when known. */
  readonly procedure: string | undefined;

  constructor(fields: { code: number; domain: number; message: string; level?: number; procedure?: string }) {
    super(fields.procedure === undefined ? fields.message : `${fields.procedure}: ${fields.message}`);
    this.name = "LibvirtError";
    this.code = fields.code;
    this.domain = fields.domain;
    this.level = fields.level ?? 2;
    this.procedure = fields.procedure;
  }

  get notFound(): boolean {
    return NOT_FOUND.has(this.code);
  }
}

/** The connection failed or closed: every call in flight fails with this. */
export class LibvirtConnectionError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "LibvirtConnectionError";
  }
}

export function isNotFound(err: unknown): boolean {
  return err instanceof LibvirtError && err.notFound;
}

export function hasCode(err: unknown, code: number): boolean {
  return err instanceof LibvirtError && err.code === code;
}

/** Decodes a remote_error (the body of an error reply or stream error). */
export function readRemoteError(r: XdrReader, procedure?: string): LibvirtError {
  const code = r.int();
  const domain = r.int();
  const message = r.optional((x) => x.string());
  const level = r.int();
  r.optional(readDomainRef);
  r.optional((x) => x.string());
  r.optional((x) => x.string());
  r.optional((x) => x.string());
  r.int();
  r.int();
  r.optional(readNetworkRef);
  return new LibvirtError({ code, domain, level, message: message ?? `libvirt error ${code}`, procedure });
}
