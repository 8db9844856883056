/** Why a user-data source gave nothing: `missing` (the platform has no such source, or it holds
 * no user-data) or `failed` (it answered badly or not in time). Printed on the console. */
export class SourceError extends Error {
  readonly reason: "missing" | "failed";
  constructor(reason: "missing" | "failed", message: string) {
    super(message);
    this.name = "SourceError";
    this.reason = reason;
  }
}

/** A place the VM's user-data may come from. */
export interface UserDataSource {
  readonly name: string;
  /** The user-data's bytes (perhaps gzipped); throws SourceError. */
  read(signal: AbortSignal): Promise<Buffer>;
}
