// The vSphere provider's settings, under the names govc and upstream's peer-pods-cm use.
// Inventory names are resolved at start-up (see inventory.ts), not here.
import {
  boolField,
  ConfigError,
  type ConfigOf,
  InvalidConfigError,
  loadConfig,
  stringField,
} from "../../src/config/index.ts";
import { normalizeThumbprint, type TlsTrust } from "./vim/index.ts";

export const vsphereConfigSpec = Object.freeze({
  url: stringField({
    env: "GOVC_URL",
    required: true,
    description:
      "vCenter SDK endpoint: a host name, https://host or https://host/sdk (govc's forms; credentials in it as user:password@ are accepted too).",
  }),
  username: stringField({
    env: "GOVC_USERNAME",
    description: "vCenter user the provider logs in as (required unless GOVC_URL carries it).",
  }),
  password: stringField({
    env: "GOVC_PASSWORD",
    secret: true,
    description: "Password of GOVC_USERNAME (required unless GOVC_URL carries it).",
  }),
  datacenter: stringField({
    env: "GOVC_DATACENTER",
    required: true,
    description: "Datacenter of the peer VMs: its name, or its inventory path when it sits in a folder.",
  }),
  template: stringField({
    env: "GOVC_TEMPLATE",
    default: "podvm-template",
    description:
      "VM template peer VMs are cloned from: a name in the datacenter's VM folder, or a path below it (folder/name).",
  }),
  datastore: stringField({
    env: "GOVC_DATASTORE",
    description: "Datastore of the clones; the template's own datastore when unset.",
  }),
  folder: stringField({
    env: "GOVC_FOLDER",
    description:
      "VM folder the clones go in (a path below the datacenter's VM folder); the datacenter's VM folder when unset.",
  }),
  cluster: stringField({
    env: "GOVC_VCLUSTER",
    description:
      "Cluster whose resource pool runs the clones; when neither this nor GOVC_HOST is set, the datacenter must have exactly one cluster or host.",
  }),
  host: stringField({
    env: "GOVC_HOST",
    description:
      "ESXi host that runs the clones (a standalone host, or a host of GOVC_VCLUSTER); see GOVC_VCLUSTER for the default.",
  }),
  drs: boolField({
    env: "GOVC_DRS",
    default: "false",
    description:
      "Let the cluster's DRS place each clone (PlaceVm: host, datastore, resource pool), as upstream; needs GOVC_VCLUSTER, and GOVC_HOST and GOVC_DATASTORE are then not used.",
  }),
  thumbprint: stringField({
    env: "GOVC_THUMBPRINT",
    description:
      "Pin vCenter's TLS certificate by its SHA-1 (govc's form, AB:CD:…) or SHA-256 thumbprint instead of checking its chain.",
  }),
  insecure: boolField({
    env: "GOVC_INSECURE",
    default: "false",
    description:
      "Accept any TLS certificate from vCenter (a warning is logged); for labs only, prefer GOVC_THUMBPRINT.",
  }),
});

export interface VsphereProviderConfig {
  /** The SDK endpoint, without credentials. */
  readonly sdkUrl: URL;
  readonly username: string;
  readonly password: string;
  readonly datacenter: string;
  readonly template: string;
  readonly datastore: string | undefined;
  readonly folder: string | undefined;
  readonly cluster: string | undefined;
  readonly host: string | undefined;
  /** GOVC_DRS: each clone placed by the cluster's DRS recommendation. */
  readonly drs: boolean;
  readonly trust: TlsTrust;
}

/** govc's URL forms: "host", "host:port", "https://host", "https://host/sdk", with user:pass@. */
function parseSdkUrl(text: string): URL | undefined {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `https://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    return undefined;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return undefined;
  if (url.hostname === "") return undefined;
  if (url.pathname === "" || url.pathname === "/") url.pathname = "/sdk";
  return url;
}

/** The URL as it may be shown: credentials replaced. */
function shownUrl(text: string): string {
  return text.replace(/\/\/[^/@]*@/, "//<credentials>@");
}

export function vsphereProviderConfig(env: Readonly<Record<string, string | undefined>>): VsphereProviderConfig {
  const c: ConfigOf<typeof vsphereConfigSpec> = loadConfig(vsphereConfigSpec, { env, argv: [] });
  const problems: ConfigError[] = [];
  const bad = (variable: string, value: string | undefined, expected: string, secret = false) =>
    problems.push(
      new ConfigError(
        value === undefined
          ? { variable, expected, source: "missing", secret }
          : { variable, value, expected, source: "env", secret },
      ),
    );

  const url = parseSdkUrl(c.url);
  if (url === undefined)
    bad("GOVC_URL", shownUrl(c.url), "a host name or an http(s) URL such as https://vcenter.example.com/sdk");
  const username = c.username ?? (url?.username ? decodeURIComponent(url.username) : undefined);
  const password = c.password ?? (url?.password ? decodeURIComponent(url.password) : undefined);
  if (url !== undefined && username === undefined)
    bad("GOVC_USERNAME", undefined, "required but not set (set GOVC_USERNAME, or put user:password@ in GOVC_URL)");
  if (url !== undefined && password === undefined)
    bad(
      "GOVC_PASSWORD",
      undefined,
      "required but not set (set GOVC_PASSWORD, or put user:password@ in GOVC_URL)",
      true,
    );

  let trust: TlsTrust = { mode: "verify" };
  if (c.thumbprint !== undefined) {
    if (normalizeThumbprint(c.thumbprint) === undefined)
      bad(
        "GOVC_THUMBPRINT",
        c.thumbprint,
        "a SHA-1 (40 hex digits, e.g. AB:CD:…) or SHA-256 (64 hex digits) certificate thumbprint",
      );
    else if (c.insecure)
      bad(
        "GOVC_INSECURE",
        "true",
        "false when GOVC_THUMBPRINT is set (pinning and no check at all contradict each other)",
      );
    else trust = { mode: "pin", thumbprint: c.thumbprint };
  } else if (c.insecure) {
    trust = { mode: "insecure" };
  }
  if (c.drs && c.cluster === undefined)
    bad("GOVC_VCLUSTER", undefined, "required with GOVC_DRS=true (DRS places clones within a cluster)");
  if (problems.length > 0) throw new InvalidConfigError(problems);

  const sdkUrl = new URL(url!.href);
  sdkUrl.username = "";
  sdkUrl.password = "";
  return {
    sdkUrl,
    username: username!,
    password: password!,
    datacenter: c.datacenter,
    template: c.template,
    datastore: c.datastore,
    folder: c.folder,
    cluster: c.cluster,
    host: c.host,
    drs: c.drs,
    trust,
  };
}
