// One long-lived connection to libvirt for the provider, opened on first use and opened
// again after it broke (libvirtd restarted, ssh dropped). Concurrent callers share it.
import type { Logger } from "pino";
import { ProviderError } from "../provider.ts";
import { LibvirtClient } from "./rpc/index.ts";

export class LibvirtSession {
  private readonly uri: string;
  private readonly logger: Logger;
  private current: Promise<LibvirtClient> | undefined;
  private closed = false;

  constructor(uri: string, logger: Logger) {
    this.uri = uri;
    this.logger = logger;
  }

  async client(signal: AbortSignal): Promise<LibvirtClient> {
    if (this.closed) throw new ProviderError("libvirt provider is closed");
    const existing = this.current;
    if (existing !== undefined) {
      const c = await existing.catch(() => undefined);
      if (c?.isOpen) return c;
      if (this.current === existing) this.current = undefined;
    }
    if (this.current === undefined) {
      const attempt = LibvirtClient.connect(this.uri, { signal });
      this.current = attempt;
      attempt.then(
        (c) => {
          this.logger.info({ uri: this.uri, via: c.description }, "connected to libvirt");
          void c.whenClosed().then(() => {
            if (!this.closed)
              this.logger.warn({ uri: this.uri }, "libvirt connection closed; reconnecting at the next call");
          });
        },
        () => {
          if (this.current === attempt) this.current = undefined;
        },
      );
    }
    try {
      return await this.current!;
    } catch (err) {
      throw new ProviderError(`cannot connect to libvirt at LIBVIRT_URI=${this.uri}: ${(err as Error).message}`, {
        retryable: true,
        cause: err,
      });
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const c = await this.current?.catch(() => undefined);
    this.current = undefined;
    await c?.close();
  }
}
