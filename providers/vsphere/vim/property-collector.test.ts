// Paging of RetrievePropertiesEx (the simulator always answers in one page, so a scripted
// endpoint plays vCenter here): the continuation token goes back verbatim until none is left.
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { moref } from "./moref.ts";
import { retrieveProperties } from "./property-collector.ts";
import { readString } from "./value-readers.ts";
import { VimClient } from "./vim-client.ts";

const servers: http.Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((resolve) => s.close(resolve));
});

const envelope = (body: string): string =>
  `<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>${body}</soapenv:Body></soapenv:Envelope>`;

const vm = (id: number): string =>
  `<objects><obj type="VirtualMachine">vm-${id}</obj><propSet><name>name</name><val xsi:type="xsd:string">peer-${id}</val></propSet></objects>`;

/** Answers by method name; records each request body. */
async function scriptedVcenter(
  pages: Record<string, string>,
  seen: string[],
  cookies: Array<string | undefined>,
): Promise<URL> {
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      seen.push(body);
      cookies.push(req.headers.cookie);
      const method = /<soapenv:Body><(\w+)/.exec(body)?.[1] ?? "";
      let answer: string;
      if (method === "RetrieveServiceContent") {
        answer = `<RetrieveServiceContentResponse xmlns="urn:vim25"><returnval><rootFolder type="Folder">group-d1</rootFolder><propertyCollector type="PropertyCollector">propertyCollector</propertyCollector><searchIndex type="SearchIndex">SearchIndex</searchIndex><sessionManager type="SessionManager">SessionManager</sessionManager><about><apiType>VirtualCenter</apiType></about></returnval></RetrieveServiceContentResponse>`;
      } else if (method === "Login") {
        res.setHeader("Set-Cookie", `vmware_soap_session="abc"; Path=/; HttpOnly`);
        answer = `<LoginResponse xmlns="urn:vim25"><returnval><key>abc</key><userName>u</userName></returnval></LoginResponse>`;
      } else {
        const token = /<token>([^<]*)<\/token>/.exec(body)?.[1] ?? "";
        answer = pages[`${method}:${token}`] ?? "";
      }
      res.writeHead(answer === "" ? 500 : 200, { "Content-Type": "text/xml" });
      res.end(
        envelope(
          answer ||
            `<soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>unexpected ${method}</faultstring></soapenv:Fault>`,
        ),
      );
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/sdk`);
}

describe("RetrievePropertiesEx paging", () => {
  it("follows continuation tokens and returns every page's objects in order", async () => {
    const seen: string[] = [];
    const cookies: Array<string | undefined> = [];
    const url = await scriptedVcenter(
      {
        "RetrievePropertiesEx:": `<RetrievePropertiesExResponse xmlns="urn:vim25"><returnval><token>t&amp;1</token>${vm(1)}${vm(2)}</returnval></RetrievePropertiesExResponse>`,
        "ContinueRetrievePropertiesEx:t&amp;1": `<ContinueRetrievePropertiesExResponse xmlns="urn:vim25"><returnval><token>t2</token>${vm(3)}</returnval></ContinueRetrievePropertiesExResponse>`,
        "ContinueRetrievePropertiesEx:t2": `<ContinueRetrievePropertiesExResponse xmlns="urn:vim25"><returnval>${vm(4)}</returnval></ContinueRetrievePropertiesExResponse>`,
      },
      seen,
      cookies,
    );
    const client = new VimClient({ url, username: "u", password: "p", trust: { mode: "verify" } });
    try {
      const found = await retrieveProperties(
        client,
        [{ type: "VirtualMachine", pathSet: ["name"] }],
        [{ obj: moref("Folder", "group-v3") }],
        AbortSignal.timeout(5000),
      );
      expect(found.map((o) => [o.obj.value, readString(o.props.get("name"))])).toEqual([
        ["vm-1", "peer-1"],
        ["vm-2", "peer-2"],
        ["vm-3", "peer-3"],
        ["vm-4", "peer-4"],
      ]);
    } finally {
      client.close();
    }
    const calls = seen.map((b) => /<soapenv:Body><(\w+)/.exec(b)?.[1]);
    expect(calls).toEqual([
      "RetrieveServiceContent",
      "Login",
      "RetrievePropertiesEx",
      "ContinueRetrievePropertiesEx",
      "ContinueRetrievePropertiesEx",
    ]);
    // The session cookie rides along from the login on; the first request asks for pages.
    expect(cookies).toEqual([
      undefined,
      undefined,
      `vmware_soap_session="abc"`,
      `vmware_soap_session="abc"`,
      `vmware_soap_session="abc"`,
    ]);
    expect(seen[2]).toContain("<maxObjects>100</maxObjects>");
    expect(seen[2]).toContain(`<objectSet><obj type="Folder">group-v3</obj><skip>false</skip></objectSet>`);
  });
});
