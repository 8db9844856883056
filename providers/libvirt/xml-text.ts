// Escaping for the XML this provider writes: every value that reaches libvirt (names,
// paths, command lines, ownership values) goes through here.
const ENTITIES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&apos;",
};

export function xmlEscape(value: string | number): string {
  const s = String(value);
  // Control characters other than tab and newlines are not allowed in XML 1.0 at all.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is its job
  if (/[\x00-\x08\x0b\x0c\x0e-\x1f]/.test(s))
    throw new RangeError(`value ${JSON.stringify(s)} holds control characters XML cannot carry`);
  return s.replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}
