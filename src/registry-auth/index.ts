// Registry credentials for the guest's image puller: pull secrets read from Kubernetes (or a
// fixed file), merged into containers-auth.json, delivered in the VM's user-data.

export {
  credentialsOfSecret,
  mergeCredentials,
  parseAuthFile,
  PullSecretError,
  type AuthFile,
  type PullSecret,
  type RegistryCredential,
} from "./auth-file.ts";
export { PullSecretReader, type PodRef, type PullSecretReaderOptions } from "./pull-secrets.ts";
export { makeRegistryAuth, readAuthFile, type RegistryAuth, type RegistryAuthOptions } from "./registry-auth.ts";
