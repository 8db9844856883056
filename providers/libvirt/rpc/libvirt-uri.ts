// LIBVIRT_URI as libvirt reads it: driver[+transport]://[user@][host][:port]/path[?params].
// The transport and its parameters stay on this side; the daemon is asked to open the same
// URI without them (qemu+ssh://root@h/system?keyfile=k opens qemu:///system over there).

export type LibvirtTransportKind = "unix" | "tcp" | "ssh";

export interface LibvirtUri {
  readonly original: string;
  readonly driver: string;
  readonly transport: LibvirtTransportKind;
  readonly user: string | undefined;
  readonly host: string | undefined;
  readonly port: number | undefined;
  readonly path: string;
  readonly params: ReadonlyMap<string, string>;
  /** The URI the daemon opens (CONNECT_OPEN). */
  readonly remoteName: string;
}

export class LibvirtUriError extends Error {
  constructor(uri: string, why: string) {
    super(`libvirt URI ${JSON.stringify(uri)}: ${why}`);
    this.name = "LibvirtUriError";
  }
}

/** Parameters the client consumes (libvirt's remote driver strips the same ones). */
const CLIENT_PARAMS: ReadonlySet<string> = new Set([
  "name",
  "command",
  "socket",
  "auth",
  "netcat",
  "keyfile",
  "sshauth",
  "no_verify",
  "no_tty",
  "pkipath",
  "known_hosts",
  "known_hosts_verify",
  "tls_priority",
  "mode",
  "proxy",
]);

export function parseLibvirtUri(text: string): LibvirtUri {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new LibvirtUriError(text, "not a URI (expected e.g. qemu:///system or qemu+ssh://user@host/system)");
  }
  const scheme = url.protocol.replace(/:$/, "");
  const [driver, transportName, extra] = scheme.split("+");
  if (driver === undefined || driver === "" || extra !== undefined)
    throw new LibvirtUriError(text, `bad scheme ${JSON.stringify(scheme)}`);
  const host = url.hostname === "" ? undefined : url.hostname.replace(/^\[|\]$/g, "");
  let transport: LibvirtTransportKind;
  switch (transportName) {
    case undefined:
      if (host !== undefined)
        throw new LibvirtUriError(
          text,
          "a remote host without a transport means TLS, which this client does not speak: use qemu+ssh:// or qemu+tcp://",
        );
      transport = "unix";
      break;
    case "unix":
    case "tcp":
    case "ssh":
      transport = transportName;
      break;
    case "tls":
    case "libssh":
    case "libssh2":
    case "ext":
      throw new LibvirtUriError(text, `transport ${transportName} is not supported: use unix, tcp or ssh`);
    default:
      throw new LibvirtUriError(text, `unknown transport ${JSON.stringify(transportName)}`);
  }
  if (transport === "unix" && host !== undefined) throw new LibvirtUriError(text, "the unix transport takes no host");
  if ((transport === "tcp" || transport === "ssh") && host === undefined)
    throw new LibvirtUriError(text, `the ${transport} transport needs a host`);
  const params = new Map<string, string>();
  for (const [k, v] of url.searchParams) params.set(k, v);
  const path = decodeURIComponent(url.pathname);
  const kept = [...params].filter(([k]) => !CLIENT_PARAMS.has(k));
  const query = kept.length === 0 ? "" : `?${new URLSearchParams(kept).toString()}`;
  const remoteName = params.get("name") ?? `${driver}://${path}${query}`;
  return {
    original: text,
    driver,
    transport,
    user: url.username === "" ? undefined : decodeURIComponent(url.username),
    host,
    port: url.port === "" ? undefined : Number(url.port),
    path,
    params,
    remoteName,
  };
}

/** A yes/no URI parameter as libvirt reads them ("1"/"0"). */
export function flagParam(uri: LibvirtUri, name: string): boolean {
  const v = uri.params.get(name);
  return v !== undefined && v !== "0" && v.toLowerCase() !== "false" && v.toLowerCase() !== "no";
}
