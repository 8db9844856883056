// The EC2 Query protocol's two halves for the fake endpoint: reading the form-encoded request
// parameters (`Filter.1.Value.2=...`) and writing XML the way EC2 does (a `<XResponse>` root in
// the 2016-11-15 namespace, lists as `<item>` children, errors as `<Response><Errors>`).

export const EC2_XMLNS = "http://ec2.amazonaws.com/doc/2016-11-15/";

/** One XML element: name and text, or name and child elements (undefined children are left out). */
export type XmlNode = readonly [name: string, content: XmlContent];
export type XmlContent = string | number | boolean | readonly (XmlNode | undefined)[];

function escapeXml(text: string): string {
  return text
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&apos;");
}

export function renderXml(node: XmlNode): string {
  const [name, content] = node;
  if (typeof content === "string" || typeof content === "number" || typeof content === "boolean") {
    return `<${name}>${escapeXml(String(content))}</${name}>`;
  }
  const inner = content
    .filter((c): c is XmlNode => c !== undefined)
    .map(renderXml)
    .join("");
  return `<${name}>${inner}</${name}>`;
}

/** An element only when the value is set: EC2 leaves absent fields out. */
export function opt(name: string, value: string | number | boolean | undefined): XmlNode | undefined {
  return value === undefined ? undefined : [name, value];
}

/** A list element of `<item>`s; left out entirely when empty, as EC2 does for most sets. */
export function itemSet<T>(
  name: string,
  values: readonly T[],
  item: (v: T) => readonly (XmlNode | undefined)[],
): XmlNode | undefined {
  return values.length === 0 ? undefined : [name, values.map((v): XmlNode => ["item", item(v)])];
}

export function successBody(action: string, requestId: string, children: readonly (XmlNode | undefined)[]): string {
  const inner = [["requestId", requestId] as XmlNode, ...children]
    .filter((c): c is XmlNode => c !== undefined)
    .map(renderXml)
    .join("");
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${EC2_XMLNS}">${inner}</${action}Response>`;
}

export function errorBody(code: string, message: string, requestId: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${escapeXml(code)}</Code><Message>${escapeXml(message)}</Message></Error></Errors><RequestID>${requestId}</RequestID></Response>`;
}

/** The request's parameters, with helpers for EC2's numbered lists. */
export class QueryParams {
  private readonly values: ReadonlyMap<string, string>;

  constructor(body: string) {
    this.values = new Map(new URLSearchParams(body));
  }

  get(name: string): string | undefined {
    return this.values.get(name);
  }

  has(name: string): boolean {
    return this.values.has(name);
  }

  /** Every name/value pair, for fingerprints and logs. */
  entries(): [string, string][] {
    return [...this.values.entries()];
  }

  /** `Prefix.1`, `Prefix.2`, ... until a gap, as EC2 numbers list members from 1. */
  list(prefix: string): string[] {
    const out: string[] = [];
    for (let i = 1; this.values.has(`${prefix}.${i}`); i++) out.push(this.values.get(`${prefix}.${i}`)!);
    return out;
  }

  /** The numbered prefixes of a list of structures (`Filter.1`, `Filter.2`, ...) that exist. */
  structs(prefix: string): string[] {
    const out: string[] = [];
    for (let i = 1; [...this.values.keys()].some((k) => k.startsWith(`${prefix}.${i}.`)); i++)
      out.push(`${prefix}.${i}`);
    return out;
  }

  bool(name: string): boolean {
    return this.values.get(name)?.toLowerCase() === "true";
  }
}
