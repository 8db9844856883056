// SOAP 1.1 envelopes as vim25 uses them: one method element in the body on the way out; one
// response element or a Fault on the way back.
import { vimFaultFrom } from "./vim-fault.ts";
import { child, childText, parseXml, type XmlElement } from "./xml-node.ts";
import { el, type Xml } from "./xml-write.ts";

const ENVELOPE_NS = {
  "xmlns:soapenv": "http://schemas.xmlsoap.org/soap/envelope/",
  "xmlns:xsd": "http://www.w3.org/2001/XMLSchema",
  "xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
};

/** `<Method xmlns="urn:vim25">…</Method>` wrapped in an envelope, as request text. */
export function requestEnvelope(method: string, params: ReadonlyArray<Xml | undefined>): string {
  const call = el(method, params, { xmlns: "urn:vim25" });
  return `<?xml version="1.0" encoding="UTF-8"?>\n${el("soapenv:Envelope", el("soapenv:Body", call), ENVELOPE_NS).markup}`;
}

/** What a SOAP answer held: the response element, or a fault to throw. */
export type SoapAnswer =
  | { readonly kind: "result"; readonly body: XmlElement }
  | { readonly kind: "fault"; readonly error: Error };

export function readEnvelope(method: string, text: string): SoapAnswer {
  const root = parseXml(text);
  if (root.name !== "Envelope") throw new Error(`answer to ${method} is not a SOAP envelope (root <${root.name}>)`);
  const body = child(root, "Body");
  const first = body?.children[0];
  if (first === undefined) throw new Error(`answer to ${method} has an empty SOAP body`);
  if (first.name === "Fault") {
    const message = childText(first, "faultstring") ?? "";
    const detail = child(first, "detail")?.children[0];
    return { kind: "fault", error: vimFaultFrom(method, detail, message) };
  }
  return { kind: "result", body: first };
}
