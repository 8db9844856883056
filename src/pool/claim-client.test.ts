// The claim client follows the forwarder link's TLS profile (TLS_MIN_VERSION, TLS_CIPHER_SUITES)
// as the agent link does: against a pool VM whose TLS the test restricts, the profile decides
// whether the handshake happens and which cipher suite the VM sees.
import tls from "node:tls";
import pino from "pino";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { TestCa } from "../../test/support/test-certs.ts";
import { ClaimHandler } from "../forwarder/claim-handler.ts";
import { poolVmServerName, tlsProfile } from "../pki/index.ts";
import { CLAIM_ALPN } from "../userdata/index.ts";
import { type ClaimClientTls, sendClaimRequest } from "./claim-client.ts";

const NAME = "podvm-pool-tls";
let ca: TestCa;
let client: ClaimClientTls;
let identity: { ca: string; cert: string; key: string };
const servers: tls.Server[] = [];

beforeAll(async () => {
  ca = await TestCa.create();
  const c = await ca.issueClient("daemon");
  client = { caPem: c.ca, certPem: c.cert, keyPem: c.key };
  identity = await ca.issueServer({ commonName: NAME, dnsNames: [poolVmServerName(NAME)] });
});
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

/** A pool VM's claim end (the forwarder's own handler) behind TLS the test restricts; records
 * the cipher suite of each handshake it completed. */
async function poolVm(restrict: tls.TlsOptions): Promise<{ port: number; ciphers: string[] }> {
  const handler = new ClaimHandler({
    poolVm: NAME,
    listenPort: 0,
    writeFile: async () => {},
    apply: async () => {},
    logger: pino({ level: "silent" }),
  });
  const ciphers: string[] = [];
  const server = tls.createServer(
    {
      ca: identity.ca,
      cert: identity.cert,
      key: identity.key,
      requestCert: true,
      rejectUnauthorized: true,
      ALPNProtocols: [CLAIM_ALPN],
      ...restrict,
    },
    (socket) => {
      ciphers.push(socket.getCipher().name);
      handler.serve(socket);
    },
  );
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { port: (server.address() as { port: number }).port, ciphers };
}

const status = (port: number, material: ClaimClientTls) =>
  sendClaimRequest({ host: "127.0.0.1", port, poolVm: NAME }, { op: "status" }, material, AbortSignal.timeout(10_000));

describe("claim client TLS profile", () => {
  it("TLS_MIN_VERSION=VersionTLS13 refuses a pool VM that speaks TLS 1.2 at most, naming the setting", async () => {
    const vm = await poolVm({ maxVersion: "TLSv1.2" });
    const err = await status(vm.port, { ...client, profile: tlsProfile("VersionTLS13", undefined) }).catch(
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(
      /^pool VM podvm-pool-tls at 127\.0\.0\.1:\d+: [\s\S]*: the forwarder offers no TLS version or cipher suite that TLS_MIN_VERSION=VersionTLS13 allows$/,
    );
    expect(vm.ciphers).toEqual([]);
    // The same VM answers under the default profile (TLS 1.2 minimum).
    expect(await status(vm.port, client)).toEqual({ ok: true, state: "waiting" });
  });

  it("TLS_CIPHER_SUITES chooses the TLS 1.2 cipher suite the pool VM sees", async () => {
    // The VM prefers AES-128 and also takes AES-256: only a client that offers AES-256 alone gets it.
    const vm = await poolVm({
      maxVersion: "TLSv1.2",
      ciphers: "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384",
      honorCipherOrder: true,
    });
    const profiled = { ...client, profile: tlsProfile("VersionTLS12", ["TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"]) };
    expect(await status(vm.port, profiled)).toEqual({ ok: true, state: "waiting" });
    expect(await status(vm.port, client)).toEqual({ ok: true, state: "waiting" });
    expect(vm.ciphers).toEqual(["ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-AES128-GCM-SHA256"]);
  });

  it("a cipher list the pool VM shares no suite with fails the handshake, naming TLS_CIPHER_SUITES", async () => {
    const vm = await poolVm({ maxVersion: "TLSv1.2", ciphers: "ECDHE-ECDSA-AES128-GCM-SHA256" });
    const profiled = { ...client, profile: tlsProfile(undefined, ["TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"]) };
    const err = await status(vm.port, profiled).catch((e: unknown) => e as Error);
    expect((err as Error).message).toMatch(
      /: the forwarder offers no TLS version or cipher suite that TLS_CIPHER_SUITES=TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 allows$/,
    );
    expect(vm.ciphers).toEqual([]);
  });
});
