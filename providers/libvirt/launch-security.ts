// Confidential libvirt guests (upstream's DISABLECVM=false and LIBVIRT_LAUNCH_SECURITY). This
// provider does not make them yet, so asking for one stops start-up; the message says what the
// libvirt host offers, read from its domain capabilities, so the operator knows whether the
// host could run one at all (no SEV, SEV-SNP, TDX or s390-pv there) or only this daemon cannot.

export const LAUNCH_SECURITY_TYPES = ["sev", "sev-snp", "tdx", "s390-pv"] as const;
export type LaunchSecurityType = (typeof LAUNCH_SECURITY_TYPES)[number];

/** What the settings ask for: a given technology, or (DISABLECVM=false alone) any. */
export interface ConfidentialRequest {
  readonly variable: "LIBVIRT_LAUNCH_SECURITY" | "DISABLECVM";
  readonly type: LaunchSecurityType | undefined;
}

const NAMES: Readonly<Record<LaunchSecurityType, string>> = {
  sev: "AMD SEV",
  "sev-snp": "AMD SEV-SNP",
  tdx: "Intel TDX",
  "s390-pv": "IBM Secure Execution (s390-pv)",
};

/**
 * The confidential guest technologies a domain capabilities document offers: its
 * `<features><sev supported='yes'>`, `<tdx …>`, `<s390-pv …>` elements, and the
 * `<launchSecurity supported='yes'>` sectype list newer libvirt adds (which names sev-snp).
 */
export function offeredLaunchSecurity(domainCapabilities: string): LaunchSecurityType[] {
  const features = /<features>([\s\S]*?)<\/features>/.exec(domainCapabilities)?.[1] ?? "";
  const offered = new Set<LaunchSecurityType>();
  for (const type of ["sev", "tdx", "s390-pv"] as const) {
    if (new RegExp(`<${type}\\s+supported=['"]yes['"]`).test(features)) offered.add(type);
  }
  const launch = /<launchSecurity\s+supported=['"]yes['"]\s*>([\s\S]*?)<\/launchSecurity>/.exec(features)?.[1];
  const sectypes =
    launch === undefined ? "" : (/<enum\s+name=['"]sectype['"]>([\s\S]*?)<\/enum>/.exec(launch)?.[1] ?? "");
  for (const m of sectypes.matchAll(/<value>([^<]*)<\/value>/g)) {
    const v = m[1]!.trim() as LaunchSecurityType;
    if ((LAUNCH_SECURITY_TYPES as readonly string[]).includes(v)) offered.add(v);
  }
  return LAUNCH_SECURITY_TYPES.filter((t) => offered.has(t));
}

/** Why the request is refused, given what the host offers (`where`: e.g. "kvm/x86_64 on qemu:///system"). */
export function confidentialRefusal(
  request: ConfidentialRequest,
  offered: readonly LaunchSecurityType[],
  where: string,
): string {
  const asked = request.type === undefined ? "DISABLECVM=false" : `LIBVIRT_LAUNCH_SECURITY=${request.type}`;
  const fix =
    request.type === undefined
      ? "set DISABLECVM=true to run ordinary guests"
      : "unset LIBVIRT_LAUNCH_SECURITY and set DISABLECVM=true to run ordinary guests";
  const has = offered.length === 0 ? "none" : offered.map((t) => NAMES[t]).join(", ");
  if (request.type !== undefined && !offered.includes(request.type))
    return `${asked}: the libvirt host offers no ${NAMES[request.type]} guests (confidential guest support in its domain capabilities for ${where}: ${has}); ${fix}`;
  if (offered.length === 0)
    return `${asked}: the libvirt host offers no confidential guests (no SEV, SEV-SNP, TDX or s390-pv in its domain capabilities for ${where}); ${fix}`;
  return `${asked}: the libvirt host offers ${has}, but this daemon does not make confidential libvirt guests yet; ${fix}`;
}
