// Envelopes without a server: what is written (escaped, in order) and how answers and faults
// are read, including forms the simulator does not produce.
import { describe, expect, it } from "vitest";
import { readEnvelope, requestEnvelope, type SoapAnswer } from "./soap-envelope.ts";
import { VimFault } from "./vim-fault.ts";
import { el } from "./xml-write.ts";

const wrap = (body: string, prefix = "soapenv"): string =>
  `<?xml version="1.0" encoding="UTF-8"?><${prefix}:Envelope xmlns:${prefix}="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><${prefix}:Body>${body}</${prefix}:Body></${prefix}:Envelope>`;

function faultOf(answer: SoapAnswer): VimFault {
  if (answer.kind !== "fault") throw new Error("expected a fault");
  expect(answer.error).toBeInstanceOf(VimFault);
  return answer.error as VimFault;
}

describe("SOAP envelopes", () => {
  it("writes the method in the vim25 namespace with every text escaped", () => {
    const text = requestEnvelope("Login", [
      el("_this", "SessionManager", { type: "SessionManager" }),
      el("userName", `a<b>&"c'`),
      undefined,
      el("password", "p\r\nw"),
    ]);
    expect(text).toContain(
      `<soapenv:Body><Login xmlns="urn:vim25"><_this type="SessionManager">SessionManager</_this><userName>a&lt;b&gt;&amp;&quot;c&apos;</userName><password>p&#13;\nw</password></Login></soapenv:Body>`,
    );
    expect(() => el("x", "bell\u0007")).toThrow(/control character/);
  });

  it("reads a result whatever the envelope prefix, decoding character references", () => {
    const answer = readEnvelope(
      "X",
      wrap(`<XResponse xmlns="urn:vim25"><returnval>a&#10;b &amp; c</returnval></XResponse>`, "S"),
    );
    expect(answer.kind).toBe("result");
    if (answer.kind === "result") expect(answer.body.children[0]?.text).toBe("a\nb & c");
  });

  it("reads a fault's type, message and fields", () => {
    const answer = readEnvelope(
      "CloneVM_Task",
      wrap(
        `<soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>Permission to perform this operation was denied.</faultstring><detail><NoPermissionFault xmlns="urn:vim25" xsi:type="NoPermission"><object type="Folder">group-v3</object><privilegeId>VirtualMachine.Inventory.CreateFromExisting</privilegeId></NoPermissionFault></detail></soapenv:Fault>`,
      ),
    );
    const err = faultOf(answer);
    expect(err.faultName).toBe("NoPermission");
    expect(err.properties).toEqual({
      object: "Folder:group-v3",
      privilegeId: "VirtualMachine.Inventory.CreateFromExisting",
    });
    expect(err.message).toBe(
      "CloneVM_Task: NoPermission (object=Folder:group-v3, privilegeId=VirtualMachine.Inventory.CreateFromExisting): Permission to perform this operation was denied.",
    );
  });

  it("names the fault by its element when it has no xsi:type", () => {
    const answer = readEnvelope(
      "Login",
      wrap(
        `<soapenv:Fault><faultcode>x</faultcode><faultstring>Cannot complete login</faultstring><detail><InvalidLoginFault xmlns="urn:vim25"/></detail></soapenv:Fault>`,
      ),
    );
    expect(faultOf(answer).faultName).toBe("InvalidLogin");
  });

  it("refuses what is not a SOAP envelope", () => {
    expect(() => readEnvelope("X", "<html><body>login portal</body></html>")).toThrow(/not a SOAP envelope/);
    expect(() => readEnvelope("X", "not xml at all <")).toThrow();
    expect(() => readEnvelope("X", wrap(""))).toThrow(/empty SOAP body/);
  });
});
