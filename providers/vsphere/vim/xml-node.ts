// A small read-only XML tree for SOAP answers. fast-xml-parser does the parsing (in document
// order, so repeated elements never change shape); this file turns its output into elements
// with namespace prefixes removed from tag names, which is all the vim25 answers need.
import { XMLParser } from "fast-xml-parser";

export interface XmlElement {
  /** Local name, without any namespace prefix. */
  readonly name: string;
  /** The xsi:type attribute, when present (vim25 marks polymorphic values with it). */
  readonly xsiType: string | undefined;
  /** Attributes as written, prefixes included (e.g. "type" of a managed object reference). */
  readonly attrs: Readonly<Record<string, string>>;
  readonly children: readonly XmlElement[];
  /** Concatenated text directly inside the element. */
  readonly text: string;
}

type Ordered = Record<string, unknown>;

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: "",
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  processEntities: true,
  // Decodes numeric character references (&#10;); vim25 answers use no HTML named entities.
  htmlEntities: true,
});

export class XmlParseError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "XmlParseError";
  }
}

function localName(tag: string): string {
  const colon = tag.indexOf(":");
  return colon < 0 ? tag : tag.slice(colon + 1);
}

function xsiTypeOf(attrs: Record<string, string>): string | undefined {
  for (const [key, value] of Object.entries(attrs)) {
    // Any prefix bound to the XML Schema instance namespace; servers use "xsi".
    if (key.endsWith(":type")) return localName(value);
  }
  return undefined;
}

function convert(items: readonly Ordered[]): XmlElement[] {
  const out: XmlElement[] = [];
  for (const item of items) {
    for (const [key, value] of Object.entries(item)) {
      if (key === ":@" || key === "#text") continue;
      const rawAttrs = (item[":@"] ?? {}) as Record<string, unknown>;
      const attrs: Record<string, string> = {};
      for (const [k, v] of Object.entries(rawAttrs)) attrs[k] = String(v);
      const content = Array.isArray(value) ? (value as Ordered[]) : [];
      const text = content
        .filter((c) => "#text" in c)
        .map((c) => String(c["#text"]))
        .join("");
      out.push({ name: localName(key), xsiType: xsiTypeOf(attrs), attrs, children: convert(content), text });
    }
  }
  return out;
}

/** Parses a whole document and returns its root element. */
export function parseXml(text: string): XmlElement {
  let parsed: unknown;
  try {
    parsed = parser.parse(text);
  } catch (err) {
    throw new XmlParseError(`malformed XML: ${(err as Error).message}`, { cause: err });
  }
  const roots = Array.isArray(parsed) ? convert(parsed as Ordered[]) : [];
  if (roots.length !== 1) throw new XmlParseError(`expected one root element, found ${roots.length}`);
  return roots[0]!;
}

/** The first child with this local name. */
export function child(el: XmlElement | undefined, name: string): XmlElement | undefined {
  return el?.children.find((c) => c.name === name);
}

/** Every child with this local name, in document order. */
export function childrenNamed(el: XmlElement | undefined, name: string): XmlElement[] {
  return el === undefined ? [] : el.children.filter((c) => c.name === name);
}

/** Text of the first child with this name; undefined when there is no such child. */
export function childText(el: XmlElement | undefined, name: string): string | undefined {
  return child(el, name)?.text;
}
