// The forwarder configuration user-data tests build from: one sandbox, TLS material (the
// provisioner refuses user-data without it), no pod network.
import type { ForwarderConfig, ForwarderTls } from "../../src/userdata/index.ts";

export function testForwarderConfig(
  sandboxId: string,
  tls: ForwarderTls = { caCert: "CA PEM", cert: "CERT PEM", key: "KEY PEM" },
): ForwarderConfig {
  return { version: 1, sandboxId, listenPort: 15150, tls, podNetwork: undefined };
}
