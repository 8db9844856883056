// Out-of-tree providers: the TypeScript counterpart of upstream's Go plugins. An ES module
// (CLOUD_PROVIDER_EXTERNAL_MODULE) exports a ProviderFactory (see ./provider.ts) as
// `providerFactory` or as its default export, and is loaded only when its bytes have the
// SHA-256 the operator pinned (CLOUD_PROVIDER_EXTERNAL_MODULE_SHA256). The daemon runs as root,
// so the module and its folder must be owned by root (or the daemon's user) and writable by no
// one else: otherwise the file checked could be swapped before it is imported.

import fs from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { sha256Hex } from "../src/util/sha256-hex.ts";
import type { ProviderFactory } from "./provider.ts";

export interface ExternalModuleOptions {
  /** Absolute path of the module. */
  readonly modulePath: string;
  /** Expected SHA-256 of its bytes, hex. */
  readonly sha256: string;
  /** CLOUD_PROVIDER: the factory's name must be this. */
  readonly providerName: string;
  /** The daemon's uid (process.getuid()). */
  readonly uid: number;
}

export class ExternalModuleError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ExternalModuleError";
  }
}

const VAR = "CLOUD_PROVIDER_EXTERNAL_MODULE";

export async function loadExternalProvider(o: ExternalModuleOptions): Promise<ProviderFactory> {
  const shown = `${VAR}=${o.modulePath}`;
  if (!path.isAbsolute(o.modulePath)) throw new ExternalModuleError(`${shown}: expected an absolute path`);
  for (const target of [o.modulePath, path.dirname(o.modulePath)]) {
    let st;
    try {
      st = await fs.stat(target);
    } catch (err) {
      throw new ExternalModuleError(
        `${shown}: cannot read ${target} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
        { cause: err },
      );
    }
    if (st.uid !== 0 && st.uid !== o.uid)
      throw new ExternalModuleError(
        `${shown}: ${target} is owned by uid ${st.uid}; it must belong to root or the daemon's user`,
      );
    if ((st.mode & 0o022) !== 0)
      throw new ExternalModuleError(
        `${shown}: ${target} is writable by group or others (mode ${(st.mode & 0o777).toString(8)}); make it writable by its owner only`,
      );
  }
  const bytes = await fs.readFile(o.modulePath);
  const actual = sha256Hex(bytes);
  if (actual !== o.sha256.toLowerCase()) {
    throw new ExternalModuleError(
      `${VAR}_SHA256=${o.sha256}: ${o.modulePath} has SHA-256 ${actual}; refusing to load a module that is not the one pinned`,
    );
  }
  let loaded: Record<string, unknown>;
  try {
    loaded = (await import(pathToFileURL(o.modulePath).href)) as Record<string, unknown>;
  } catch (err) {
    throw new ExternalModuleError(`${shown}: cannot import it: ${(err as Error).message}`, { cause: err });
  }
  const factory = loaded.providerFactory ?? loaded.default;
  if (!isFactory(factory)) {
    throw new ExternalModuleError(
      `${shown}: expected an export providerFactory (or a default export) with name, description and create(ctx), as in providers/provider.ts`,
    );
  }
  if (factory.name !== o.providerName) {
    throw new ExternalModuleError(
      `${shown}: the module's provider is ${JSON.stringify(factory.name)} but CLOUD_PROVIDER is ${JSON.stringify(o.providerName)}; they must match`,
    );
  }
  return factory;
}

function isFactory(value: unknown): value is ProviderFactory {
  const f = value as Partial<ProviderFactory> | undefined;
  return (
    typeof f === "object" &&
    f !== null &&
    typeof f.name === "string" &&
    f.name !== "" &&
    typeof f.description === "string" &&
    typeof f.create === "function"
  );
}
