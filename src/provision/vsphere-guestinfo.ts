// vSphere: guestinfo.userdata (and guestinfo.userdata.encoding: base64/b64 or
// gzip+base64/gz+b64) read through open-vm-tools' vmware-rpctool.
import { execFile } from "node:child_process";
import { SourceError, type UserDataSource } from "./source-error.ts";

export function vsphereGuestinfoSource(o: { rpctool?: string; timeoutMs?: number } = {}): UserDataSource {
  const tool = o.rpctool ?? "vmware-rpctool";
  const timeoutMs = o.timeoutMs ?? 5000;
  const get = (key: string, signal: AbortSignal) =>
    new Promise<string | undefined>((resolve, reject) => {
      execFile(
        tool,
        [`info-get ${key}`],
        { signal, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
        (err, stdout, stderr) => {
          if (err === null) return resolve(stdout.replace(/\n$/, ""));
          if ((err as NodeJS.ErrnoException).code === "ENOENT")
            return reject(new SourceError("missing", `${tool} is not installed`));
          // rpctool prints the host's answer: "No value found" (exit 1) for an unset key.
          if (/no value found/i.test(stderr)) return resolve(undefined);
          // Outside VMware its backdoor call faults and it says "Failed sending message to
          // VMware." (exit 1): this platform has no guestinfo, waiting will not bring one.
          reject(
            new SourceError(
              /failed sending message to vmware/i.test(stderr) ? "missing" : "failed",
              `${tool} info-get ${key}: ${stderr.trim() || err.message}`,
            ),
          );
        },
      );
    });
  return {
    name: "vsphere-guestinfo",
    async read(signal) {
      const data = await get("guestinfo.userdata", signal);
      if (data === undefined || data === "") throw new SourceError("missing", "guestinfo.userdata is not set");
      const encoding = ((await get("guestinfo.userdata.encoding", signal)) ?? "").trim();
      return decodeGuestinfo(data, encoding);
    },
  };
}

export function decodeGuestinfo(data: string, encoding: string): Buffer {
  switch (encoding) {
    case "":
      return Buffer.from(data, "utf8");
    case "base64":
    case "b64":
      return Buffer.from(data, "base64");
    case "gzip+base64":
    case "gz+b64":
      // The gzip is undone with every other source's, by the caller.
      return Buffer.from(data, "base64");
    default:
      throw new SourceError(
        "failed",
        `guestinfo.userdata.encoding "${encoding}" is not one of base64, b64, gzip+base64, gz+b64`,
      );
  }
}
