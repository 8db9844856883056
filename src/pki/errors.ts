/** A problem with the CA's files or with a certificate request. */
export class PkiError extends Error {
  /** The file at fault, when there is one. */
  readonly path: string | undefined;

  constructor(message: string, options?: { readonly path?: string; readonly cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "PkiError";
    this.path = options?.path;
  }
}
