// Faults the server reports, as typed errors: the vim25 fault type (InvalidLogin,
// NotAuthenticated, InvalidPowerState, ...), the server's message and the fault's simple fields.
import type { XmlElement } from "./xml-node.ts";

export class VimFault extends Error {
  /** The vim25 fault type, e.g. "InvalidLogin". */
  readonly faultName: string;
  /** The server's own text; may be empty. */
  readonly faultMessage: string;
  /** The method (or task) that failed. */
  readonly method: string;
  /** The fault's simple fields (existingState, name, obj, ...), for messages and decisions. */
  readonly properties: Readonly<Record<string, string>>;

  constructor(details: {
    faultName: string;
    faultMessage: string;
    method: string;
    properties?: Readonly<Record<string, string>>;
  }) {
    const properties = details.properties ?? {};
    const shown = Object.entries(properties).map(([k, v]) => `${k}=${v}`);
    const facts = shown.length > 0 ? ` (${shown.join(", ")})` : "";
    // The simulator (and some servers) put only the fault's type in the message: skip repeats.
    const text = details.faultMessage.trim();
    const said = text === "" || text.includes(details.faultName) ? "" : `: ${text}`;
    super(`${details.method}: ${details.faultName}${facts}${said}`);
    this.name = "VimFault";
    this.faultName = details.faultName;
    this.faultMessage = details.faultMessage;
    this.method = details.method;
    this.properties = properties;
  }
}

/** The server could not be reached or did not answer as a vSphere SDK endpoint would. */
export class VimTransportError extends Error {
  /** HTTP status, when an answer came. */
  readonly status: number | undefined;
  constructor(message: string, options: { status?: number; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = "VimTransportError";
    this.status = options.status;
  }
}

export function isFault(err: unknown, ...names: string[]): err is VimFault {
  return err instanceof VimFault && (names.length === 0 || names.includes(err.faultName));
}

/** The fault's type: its xsi:type, else the element name without the "Fault" suffix. */
export function faultNameOf(fault: XmlElement): string {
  return fault.xsiType ?? fault.name.replace(/Fault$/, "");
}

/** Fields of the fault with plain values; references are shown as type:value. */
export function faultProperties(fault: XmlElement): Record<string, string> {
  const props: Record<string, string> = {};
  for (const c of fault.children) {
    if (c.children.length > 0 || c.text === "") continue;
    const ref = c.attrs["type"];
    const value = ref === undefined ? c.text : `${ref}:${c.text}`;
    props[c.name] = c.name in props ? `${props[c.name]},${value}` : value;
  }
  return props;
}

/** Builds the error for a fault element (SOAP detail or a task's LocalizedMethodFault.fault). */
export function vimFaultFrom(method: string, fault: XmlElement | undefined, message: string): VimFault {
  if (fault === undefined) return new VimFault({ faultName: "SystemError", faultMessage: message, method });
  return new VimFault({
    faultName: faultNameOf(fault),
    faultMessage: message,
    method,
    properties: faultProperties(fault),
  });
}
