// Settings of the peerpods-webhook binary, with the same toolkit (variables and -flags) as the
// daemon. Upstream's webhook is configured differently: its runtime class variables
// (TARGET_RUNTIMECLASS, RUNTIMECLASS_NAME) are read too, see runtime-class-name.ts; its other
// variables are refused or warned about, see upstream-webhook-settings.ts. TLS_MIN_VERSION and
// TLS_CIPHER_SUITES (the cluster's TLS profile, as OpenShift injects it) mean what they mean for
// the daemon, here for the HTTPS side the API server calls.

import {
  type ConfigOf,
  durationField,
  enumField,
  InvalidConfigError,
  type LoadOptions,
  listField,
  loadConfig,
  logLevelField,
  portField,
  stringField,
} from "../config/index.ts";
import { cipherSuitesError, TLS_VERSION_NAMES } from "../config/tls-settings.ts";
import type { AdmissionPolicy } from "./admission-policy.ts";
import { withRuntimeClassName } from "./runtime-class-name.ts";

/** Namespaces of the cluster itself; their pods are never peer pods. */
export const SYSTEM_NAMESPACES = ["kube-system", "kube-public", "kube-node-lease"] as const;

export const webhookConfigSpec = Object.freeze({
  port: portField({
    env: "WEBHOOK_PORT",
    flag: "port",
    default: "8443",
    description: "HTTPS port the API server calls (POST /mutate-v1-pod).",
  }),
  certFile: stringField({
    env: "TLS_CERT_FILE",
    flag: "tls-cert-file",
    default: "/etc/peerpods-webhook/tls/tls.crt",
    description: "Serving certificate (PEM, with its chain); reloaded when the file changes.",
  }),
  keyFile: stringField({
    env: "TLS_KEY_FILE",
    flag: "tls-key-file",
    default: "/etc/peerpods-webhook/tls/tls.key",
    description: "Private key of the serving certificate (PEM); reloaded when the file changes.",
  }),
  tlsPollIntervalMs: durationField({
    env: "TLS_RELOAD_INTERVAL",
    flag: "tls-reload-interval",
    default: "10s",
    minMs: 10,
    description: "How often the certificate files are checked for a renewal (file-system events may notice sooner).",
  }),
  tlsMinVersion: enumField({
    env: "TLS_MIN_VERSION",
    flag: "tls-min-version",
    values: TLS_VERSION_NAMES,
    description: "Lowest TLS version the API server may use: VersionTLS12 (when unset) or VersionTLS13.",
  }),
  tlsCipherSuites: listField({
    env: "TLS_CIPHER_SUITES",
    flag: "tls-cipher-suites",
    description:
      "TLS 1.2 cipher suites the API server may use, comma-separated IANA names; unset: Node's defaults. TLS 1.3 suites are always on.",
  }),
  runtimeClass: stringField({
    env: "TARGET_RUNTIME_CLASS",
    flag: "target-runtime-class",
    default: "kata-remote",
    description:
      "runtimeClassName of peer pods; pods with any other class are left alone. Upstream's TARGET_RUNTIMECLASS and RUNTIMECLASS_NAME are read too (they must agree).",
  }),
  excludedNamespaces: listField({
    env: "EXCLUDED_NAMESPACES",
    flag: "excluded-namespaces",
    default: SYSTEM_NAMESPACES.join(","),
    description: "Comma-separated namespaces whose pods are never changed (the webhook's own namespace always is).",
  }),
  ownNamespace: stringField({
    env: "POD_NAMESPACE",
    flag: "pod-namespace",
    description: "Namespace the webhook runs in (set from the downward API); always excluded.",
  }),
  logLevel: logLevelField,
});

export type WebhookConfig = ConfigOf<typeof webhookConfigSpec>;

/** Loads the webhook's settings; see loadConfig for errors. */
export function loadWebhookConfig(options: LoadOptions): WebhookConfig {
  const config = loadConfig(webhookConfigSpec, { ...options, env: withRuntimeClassName(options.env) });
  const suites = cipherSuitesError(config.tlsCipherSuites);
  if (suites !== undefined) throw new InvalidConfigError([suites]);
  return config;
}

export function admissionPolicyOf(config: WebhookConfig): AdmissionPolicy {
  const excluded = new Set(config.excludedNamespaces);
  if (config.ownNamespace !== undefined) excluded.add(config.ownNamespace);
  return { runtimeClass: config.runtimeClass, excludedNamespaces: excluded };
}
