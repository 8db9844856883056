// bench:podvm — how long the peer-pod image (podvm/build.sh, minimal agent, UEFI boot) takes
// from the domain's start until its forwarder accepts connections, against the busybox test
// image (direct kernel boot) under the same emulation on the same libvirtd, and the image's
// sizes. Both VMs get the same user-data (real TLS material) through the libvirt provider.
// BENCH_VMS boots of each, alternated; the ratio is of the medians.
// Last line: RESULT podvm_boot_ratio=<podvm / test image> podvm_qcow2_mb=<size>
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import pino from "pino";
import { cachedPodvmImage } from "../podvm/cached-build.ts";
import { libvirtProviderConfig } from "../providers/libvirt/config.ts";
import { LibvirtProvider } from "../providers/libvirt/provider.ts";
import { LibvirtClient } from "../providers/libvirt/rpc/index.ts";
import { uploadImage } from "../providers/libvirt/upload-image.ts";
import { benchVmRequest } from "../test/support/bench-vm-request.ts";
import {
  acquireLibvirtDaemons,
  ensureTestPool,
  preparePeerVmHost,
  removeAll,
  SYSTEM_URI,
  TEST_POOL,
} from "../test/support/libvirt-host.ts";
import { canConnect } from "../test/support/tcp-probe.ts";
import { createTestPki } from "../test/support/test-certs.ts";

const VMS = Number(process.env.BENCH_VMS ?? 1);
const prefix = `bench-pv-${randomBytes(2).toString("hex")}`;
const MB = 1024 * 1024;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Resolves once something accepts TCP connections on host:port. */
async function waitForPort(host: string, port: number, signal: AbortSignal): Promise<void> {
  for (;;) {
    signal.throwIfAborted();
    if (await canConnect(host, port, 1000)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
}

const daemons = await acquireLibvirtDaemons();
const client = await LibvirtClient.connect(SYSTEM_URI);
try {
  const image = await cachedPodvmImage({ log: (l) => process.stderr.write(`${l}\n`) });
  const host = await preparePeerVmHost(client);
  await ensureTestPool(client);
  const podvmVolume = `${prefix}-podvm.qcow2`;
  await uploadImage(client, { pool: TEST_POOL, name: podvmVolume, file: image.qcow2 });
  const pki = await createTestPki();
  const tls = { caCert: pki.server.ca, cert: pki.server.cert, key: pki.server.key };
  const logger = pino({ level: "silent" });
  const common = { LIBVIRT_MEMORY: "1024", LIBVIRT_SHUTDOWN_GRACE: "0s" };
  const testImage = new LibvirtProvider(libvirtProviderConfig(host.env(common)), { logger, leasePollMs: 250 });
  const {
    LIBVIRT_KERNEL: _k,
    LIBVIRT_INITRD: _i,
    LIBVIRT_CMDLINE: _c,
    ...uefiEnv
  } = host.env({ ...common, LIBVIRT_VOL_NAME: podvmVolume });
  const podvm = new LibvirtProvider(libvirtProviderConfig(uefiEnv), { logger, leasePollMs: 250 });
  const times: Record<"podvm" | "test", number[]> = { podvm: [], test: [] };
  for (let k = 0; k < VMS; k++) {
    for (const [kind, provider] of [
      ["test", testImage],
      ["podvm", podvm],
    ] as const) {
      const name = `${prefix}-${kind}${k}`;
      const t0 = performance.now();
      const vm = await provider.createVm(benchVmRequest(name, `bench-${k}`, tls), AbortSignal.timeout(1_200_000));
      await waitForPort(vm.address!, 15150, AbortSignal.timeout(1_200_000));
      const ms = performance.now() - t0;
      times[kind].push(ms);
      console.log(`${kind.padEnd(6)} ${name}: forwarder ready after ${(ms / 1000).toFixed(1)} s`);
      await provider.deleteVm({ id: vm.id, name, owner: vm.owner }, AbortSignal.timeout(120_000));
    }
  }
  await testImage.close();
  await podvm.close();
  const sizes = Object.fromEntries(
    await Promise.all(
      ["raw", "qcow2", "vhd", "ova"].map(
        async (f) => [f, (await fs.stat(`${image.dir}/podvm.${f}`)).size / MB] as const,
      ),
    ),
  );
  console.log(
    `sizes (MB): ${Object.entries(sizes)
      .map(([f, s]) => `${f} ${s.toFixed(0)}`)
      .join(", ")}`,
  );
  const ratio = median(times.podvm) / median(times.test);
  console.log(
    `RESULT podvm_boot_ratio=${ratio.toFixed(2)} podvm_qcow2_mb=${sizes.qcow2!.toFixed(0)} podvm_boot_s=${(median(times.podvm) / 1000).toFixed(1)} test_image_boot_s=${(median(times.test) / 1000).toFixed(1)}`,
  );
} finally {
  await removeAll(client, prefix);
  await client.close();
  await daemons.release();
}
