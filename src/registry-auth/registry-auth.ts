// Where a pod's registry credentials come from, chosen once at start-up:
//   REGISTRY_AUTH=off       none (the guest pulls anonymously)
//   REGISTRY_AUTH_FILE=F    the same containers-auth.json for every pod (nodes outside Kubernetes)
//   in a cluster (default)  the pod's pull secrets and its service account's, read at StartVM
//   no Kubernetes API       none, said once at start-up

import fs from "node:fs/promises";
import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { ANNOTATIONS } from "../kata/annotations.ts";
import { type AuthFile, parseAuthFile } from "./auth-file.ts";

export interface RegistryAuth {
  /** For logs: where credentials come from. */
  readonly source: string;
  /** The auth file for the pod the annotations describe, or undefined for none. Never rejects
   * except when `signal` aborts: missing credentials do not fail a pod. */
  forPod(annotations: Readonly<Record<string, string>>, signal: AbortSignal): Promise<AuthFile | undefined>;
}

const NONE = (source: string): RegistryAuth => ({ source, forPod: async () => undefined });

/** Reads and checks REGISTRY_AUTH_FILE; throws an Error naming the variable and the file. */
export async function readAuthFile(file: string): Promise<AuthFile> {
  let text: string;
  try {
    text = await fs.readFile(file, "utf8");
  } catch (err) {
    throw new Error(
      `REGISTRY_AUTH_FILE=${file}: cannot read it: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  try {
    return parseAuthFile(text);
  } catch (err) {
    throw new Error(`REGISTRY_AUTH_FILE=${file}: ${(err as Error).message}`);
  }
}

export interface RegistryAuthOptions {
  readonly enabled: boolean;
  readonly authFile: string | undefined;
  readonly kubeConfig: KubeConfig | undefined;
  readonly logger: Logger;
}

/** The source the settings choose. A REGISTRY_AUTH_FILE is checked here, so a bad one stops
 * start-up instead of failing pods later. */
export async function makeRegistryAuth(options: RegistryAuthOptions): Promise<RegistryAuth> {
  const log = options.logger.child({ component: "registry-auth" });
  if (!options.enabled) return NONE("off (REGISTRY_AUTH=off)");
  const file = options.authFile;
  if (file !== undefined) {
    await readAuthFile(file);
    return {
      source: `REGISTRY_AUTH_FILE ${file}`,
      // Re-read for every pod, so a rotated file takes effect without a restart.
      async forPod() {
        try {
          return await readAuthFile(file);
        } catch (err) {
          log.warn({ err: (err as Error).message }, "registry credentials left out of this pod");
          return undefined;
        }
      },
    };
  }
  if (options.kubeConfig === undefined) {
    // Outside a cluster there are no pull secrets to read: not a fault, so not a warning.
    log.info("no Kubernetes API and no REGISTRY_AUTH_FILE: pods get no registry credentials");
    return NONE("none (no Kubernetes API)");
  }
  // Loaded only in a cluster: outside one the daemon never loads the Kubernetes client.
  const { PullSecretReader } = await import("./pull-secrets.ts");
  const reader = new PullSecretReader({ kubeConfig: options.kubeConfig, logger: log });
  return {
    source: "the pod's pull secrets (Kubernetes API)",
    async forPod(annotations, signal) {
      const name = annotations[ANNOTATIONS.podName] ?? "";
      const namespace = annotations[ANNOTATIONS.podNamespace] ?? "";
      // Plain `ctr run` and other pods outside Kubernetes carry no pod name: nothing to read.
      if (name === "" || namespace === "") return undefined;
      return reader.authFileFor({ namespace, name }, signal);
    },
  };
}
