// CreateVM refuses a pod whose initdata is not valid (upstream's initdata TOML, plain, base64
// or gzip+base64), naming where it came from and what is wrong, before any VM exists.
import { InitdataError, parseInitdata } from "../initdata/index.ts";
import { ANNOTATIONS } from "../kata/annotations.ts";
import { SandboxError } from "./sandbox-error.ts";

export function checkPodInitdata(
  annotations: Readonly<Record<string, string>>,
  defaultInitdata: string | undefined,
): void {
  const own = annotations[ANNOTATIONS.initdata];
  const raw = own || defaultInitdata;
  if (raw === undefined || raw === "") return;
  try {
    parseInitdata(raw);
  } catch (err) {
    if (!(err instanceof InitdataError)) throw err;
    const from = own ? `annotation ${ANNOTATIONS.initdata}` : "INITDATA (the daemon's default initdata)";
    throw new SandboxError("invalid-argument", `${from}: ${err.message}`);
  }
}
