// Signing in as Azure users configure it, against the fake endpoint's real token flow.
import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { ComputeManagementClient } from "@azure/arm-compute";
import { ClientSecretCredential } from "@azure/identity";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type AzureTestBed, azureTestBed, TEST_OWNER } from "../../test/support/azure-test-bed.ts";
import { ProviderError } from "../provider.ts";

const run = promisify(execFile);
const CHILD = fileURLToPath(new URL("../../test/support/azure-provider-child.ts", import.meta.url));
// A projected service-account token as the workload identity webhook mounts it.
const SA_TOKEN =
  "eyJhbGciOiJSUzI1NiIsImtpZCI6ImZha2UifQ.eyJhdWQiOlsiYXBpOi8vQXp1cmVBRFRva2VuRXhjaGFuZ2UiXSwic3ViIjoic3lzdGVtOnNlcnZpY2VhY2NvdW50OmNvbmZpZGVudGlhbC1jb250YWluZXJzLXN5c3RlbTpjbG91ZC1hcGktYWRhcHRvciJ9.c2ln";

let dir = "";
beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "azure-cred-"));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});
let bed: AzureTestBed | undefined;
afterEach(async () => {
  await bed?.close();
  bed = undefined;
});

describe("Azure sign-in", () => {
  it("signs in with workload identity: the projected token as client assertion, no secret", async () => {
    bed = await azureTestBed({ fake: { clientAssertion: SA_TOKEN } });
    const tokenFile = path.join(dir, "azure-identity-token");
    await fs.writeFile(tokenFile, SA_TOKEN);
    const provider = bed.restarted({ AZURE_CLIENT_SECRET: undefined, AZURE_FEDERATED_TOKEN_FILE: tokenFile });
    await provider.check(AbortSignal.timeout(10_000));
    expect(bed.fake.identity.tokenRequests).toBe(1);

    await fs.writeFile(tokenFile, "eyJ.not-the-federated-token.x");
    const refused = await bed
      .restarted({ AZURE_CLIENT_SECRET: undefined, AZURE_FEDERATED_TOKEN_FILE: tokenFile })
      .check(AbortSignal.timeout(10_000))
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ProviderError);
    expect((refused as Error).message).toMatch(
      /^Azure sign-in with the workload identity of application \S+ in tenant \S+ \(token file .*azure-identity-token\) failed: .*AADSTS700211/,
    );
  });

  it("asks for tokens for the configured Resource Manager, which refuses tokens for another", async () => {
    bed = await azureTestBed();
    await bed.provider.check(AbortSignal.timeout(10_000));
    expect(bed.fake.identity.audiences()).toEqual([bed.fake.url]);
    // The SDK's default audience (the public cloud) is what a private or sovereign endpoint refuses.
    const fake = bed.fake;
    const tlsOptions = { ca: fake.caPem };
    const credential = new ClientSecretCredential(fake.tenantId, fake.clientId, fake.clientSecret, {
      authorityHost: fake.url,
      disableInstanceDiscovery: true,
      tlsOptions,
    });
    const compute = new ComputeManagementClient(credential, fake.subscriptionId, {
      endpoint: fake.url,
      tlsOptions,
      retryOptions: { maxRetries: 0 },
    });
    await expect(compute.virtualMachines.get(fake.resourceGroup, "any")).rejects.toMatchObject({
      statusCode: 401,
      code: "InvalidAuthenticationTokenAudience",
    });
  });

  it("trusts a private endpoint through NODE_EXTRA_CA_CERTS, and refuses it without", async () => {
    bed = await azureTestBed();
    await bed.provider.createVm(bed.request("podvm-env-ca"), AbortSignal.timeout(10_000));
    const caFile = path.join(dir, "fake-azure-ca.pem");
    await fs.writeFile(caFile, bed.fake.caPem);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...bed.fake.env(),
      TEST_NODE: TEST_OWNER.node,
      TEST_CLUSTER: TEST_OWNER.cluster,
    };
    delete env.NODE_EXTRA_CA_CERTS;
    const trusted = await run(process.execPath, [CHILD], {
      env: { ...env, NODE_EXTRA_CA_CERTS: caFile },
      timeout: 30_000,
    });
    expect(JSON.parse(trusted.stdout)).toEqual({ ok: true, owned: ["podvm-env-ca"] });

    const untrusted = await run(process.execPath, [CHILD], { env, timeout: 30_000 }).catch(
      (e: { stdout: string; code: number }) => e,
    );
    expect((untrusted as { code: number }).code).toBe(1);
    const answer = JSON.parse((untrusted as { stdout: string }).stdout) as { ok: boolean; error: string };
    expect(answer.ok).toBe(false);
    // The identity library hides why; the check says it.
    expect(answer.error).toMatch(
      /^Azure sign-in with the client secret .* failed: endpoints_resolution_error.*; the authority https:\/\/127\.0\.0\.1:\d+\/[\w-]+\/v2\.0\/\.well-known\/openid-configuration could not be reached: unable to verify the first certificate.*\(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)$/,
    );
  });
});
