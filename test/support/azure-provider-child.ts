// Runs the Azure provider as the daemon builds it (factory, environment only, no CA passed in
// code), so a test can show that NODE_EXTRA_CA_CERTS is what makes a private endpoint trusted.
// Prints one JSON line: {"ok":true,"owned":[...]} or {"ok":false,"error":"..."}.
import pino from "pino";
import { azureProviderFactory } from "../../providers/azure/index.ts";

const provider = azureProviderFactory.create({
  env: process.env,
  stateDir: "/nonexistent",
  logger: pino({ level: "silent" }),
  isRoot: false,
});
const signal = AbortSignal.timeout(20_000);
try {
  await provider.check(signal);
  const owned = await provider.listOwnedVms(
    { node: process.env.TEST_NODE ?? "", cluster: process.env.TEST_CLUSTER ?? "" },
    signal,
  );
  process.stdout.write(`${JSON.stringify({ ok: true, owned: owned.map((v) => v.name) })}\n`);
} catch (err) {
  process.stdout.write(`${JSON.stringify({ ok: false, error: (err as Error).message })}\n`);
  process.exitCode = 1;
} finally {
  await provider.close();
}
