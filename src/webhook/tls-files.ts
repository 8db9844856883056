// The serving certificate and key from mounted files, picked up again when they change on disk
// (cert-manager renews the Secret; the kubelet swaps the mounted files). Changes are noticed by
// polling, and sooner through a file-system watch of the folders where that works. A pair that
// does not load (a key not matching its certificate while the files are half-written) is
// reported and the previous pair keeps serving until a good one appears.

import { createHash } from "node:crypto";
import { type FSWatcher, watch } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { createSecureContext } from "node:tls";

export interface TlsPair {
  readonly cert: Buffer;
  readonly key: Buffer;
}

export class TlsFilesError extends Error {
  override readonly name = "TlsFilesError";
}

/** Reads and checks a certificate/key pair (PEM). Throws TlsFilesError naming the files. */
export async function readTlsPair(certFile: string, keyFile: string): Promise<TlsPair> {
  let cert: Buffer;
  let key: Buffer;
  try {
    [cert, key] = await Promise.all([readFile(certFile), readFile(keyFile)]);
  } catch (err) {
    throw new TlsFilesError(`cannot read TLS files ${certFile} and ${keyFile}: ${(err as Error).message}`);
  }
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    throw new TlsFilesError(`TLS certificate ${certFile} and key ${keyFile} do not load: ${(err as Error).message}`);
  }
  return { cert, key };
}

function fingerprint(pair: TlsPair): string {
  return createHash("sha256").update(pair.cert).update("\0").update(pair.key).digest("hex");
}

export interface TlsWatchOptions {
  readonly certFile: string;
  readonly keyFile: string;
  /** The pair being served now. */
  readonly current: TlsPair;
  readonly pollIntervalMs: number;
  readonly onChange: (pair: TlsPair) => void;
  /** A changed pair that cannot be used; reported once per distinct content or read error. */
  readonly onError: (err: TlsFilesError) => void;
}

export interface TlsWatch {
  close(): void;
}

export function watchTlsPair(options: TlsWatchOptions): TlsWatch {
  let served = fingerprint(options.current);
  let lastProblem = "";
  let running = false;
  let again = false;
  let closed = false;

  const check = async (): Promise<void> => {
    let pair: TlsPair;
    try {
      const [cert, key] = await Promise.all([readFile(options.certFile), readFile(options.keyFile)]);
      pair = { cert, key };
    } catch (err) {
      return report(
        new TlsFilesError(
          `cannot read TLS files ${options.certFile} and ${options.keyFile}: ${(err as Error).message}`,
        ),
        "read",
      );
    }
    const seen = fingerprint(pair);
    if (seen === served) return;
    try {
      createSecureContext(pair);
    } catch (err) {
      return report(
        new TlsFilesError(
          `new TLS certificate ${options.certFile} and key ${options.keyFile} do not load: ${(err as Error).message}`,
        ),
        seen,
      );
    }
    served = seen;
    lastProblem = "";
    if (!closed) options.onChange(pair);
  };

  const report = (err: TlsFilesError, key: string): void => {
    const id = `${key}:${err.message}`;
    if (id === lastProblem || closed) return;
    lastProblem = id;
    options.onError(err);
  };

  // One check at a time; a change noticed during a check runs one more.
  const trigger = (): void => {
    if (closed) return;
    if (running) {
      again = true;
      return;
    }
    running = true;
    void check()
      .catch((err: unknown) =>
        report(new TlsFilesError(`checking TLS files failed: ${(err as Error).message}`), "check"),
      )
      .finally(() => {
        running = false;
        if (again) {
          again = false;
          trigger();
        }
      });
  };

  const timer = setInterval(trigger, options.pollIntervalMs);
  timer.unref();
  const watchers: FSWatcher[] = [];
  for (const folder of new Set([dirname(options.certFile), dirname(options.keyFile)])) {
    try {
      const watcher = watch(folder, { persistent: false }, trigger);
      // A watch that breaks (folder replaced) is only an early notice; polling still covers it.
      watcher.on("error", () => watcher.close());
      watchers.push(watcher);
    } catch {
      // Folders that cannot be watched are covered by polling alone.
    }
  }

  return {
    close() {
      closed = true;
      clearInterval(timer);
      for (const watcher of watchers) watcher.close();
    },
  };
}
