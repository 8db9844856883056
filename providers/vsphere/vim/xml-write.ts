// Writing request bodies. vim25 checks element order against its schema, so callers list
// children in WSDL order; undefined children are left out, which is how optional fields are
// omitted. Plain strings are always escaped: only Xml objects carry markup.

/** Serialized markup made by el(); never built from unescaped text. */
export class Xml {
  readonly markup: string;
  constructor(markup: string) {
    this.markup = markup;
  }
}

const ESCAPES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&apos;",
};

// Characters XML 1.0 cannot carry at all, even escaped.
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is its job
const FORBIDDEN = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/;

export function escapeXml(value: string): string {
  if (FORBIDDEN.test(value)) throw new Error("text holds a control character XML cannot carry");
  // \r would be read back as \n (end-of-line normalisation) unless written as a reference.
  return value.replace(/[&<>"'\r]/g, (c) => ESCAPES[c] ?? "&#13;");
}

export type XmlContent = Xml | string | number | boolean | undefined | ReadonlyArray<Xml | undefined>;

/** An element; `attrs` values are escaped too. */
export function el(name: string, content?: XmlContent, attrs: Readonly<Record<string, string>> = {}): Xml {
  const attrText = Object.entries(attrs)
    .map(([k, v]) => ` ${k}="${escapeXml(v)}"`)
    .join("");
  let inner: string;
  if (content === undefined) inner = "";
  else if (content instanceof Xml) inner = content.markup;
  else if (Array.isArray(content)) inner = content.map((c) => c?.markup ?? "").join("");
  else inner = escapeXml(String(content));
  return new Xml(`<${name}${attrText}>${inner}</${name}>`);
}

/** An element only when the value is present. */
export function optional(name: string, value: string | number | boolean | undefined): Xml | undefined {
  return value === undefined ? undefined : el(name, value);
}
