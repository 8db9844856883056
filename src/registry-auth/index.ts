// Registry credentials for the guest's image puller: pull secrets read from Kubernetes (or a
// fixed file), merged into containers-auth.json, delivered in the VM's user-data.

export {
  type AuthFile,
  credentialsOfSecret,
  mergeCredentials,
  type PullSecret,
  PullSecretError,
  parseAuthFile,
  type RegistryCredential,
} from "./auth-file.ts";
// Types only: the reader's module loads the Kubernetes client (about 50 MiB resident), which
// makeRegistryAuth imports only when pull secrets are read from a cluster.
export type { PodRef, PullSecretReader, PullSecretReaderOptions } from "./pull-secrets.ts";
export { makeRegistryAuth, type RegistryAuth, type RegistryAuthOptions, readAuthFile } from "./registry-auth.ts";
