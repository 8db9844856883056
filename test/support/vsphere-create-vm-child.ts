// A daemon reduced to one createVm call, for crash tests: they kill this process at a chosen
// moment (its log lines tell them where it is) and check what a restarted provider does.
// Usage: node vsphere-create-vm-child.ts <base64 JSON {env, req, timeoutMs}>; logs JSON lines on
// stdout, and a last line {"created": VmInstance} on success.
import pino from "pino";
import type { CreateVmRequest } from "../../providers/provider.ts";
import { vsphereProviderConfig } from "../../providers/vsphere/config.ts";
import { VsphereProvider } from "../../providers/vsphere/provider.ts";

interface Input {
  readonly env: Record<string, string | undefined>;
  readonly req: CreateVmRequest;
  readonly timeoutMs: number;
}

const input = JSON.parse(Buffer.from(process.argv[2] ?? "", "base64").toString("utf8")) as Input;
const provider = new VsphereProvider(vsphereProviderConfig(input.env), {
  logger: pino({ level: "info" }),
  taskPollMs: 100,
  addressPollMs: 100,
});
try {
  const vm = await provider.createVm(input.req, AbortSignal.timeout(input.timeoutMs));
  process.stdout.write(`${JSON.stringify({ created: vm })}\n`);
} finally {
  await provider.close();
}
