// Start-up check: the project, zone, network, subnetwork, image and every machine type the
// configuration names exist, the machine types can run the confidential type, and the
// credential may list instances. Every problem is one line naming the variable to fix, all
// reported at once; a refused sign-in stops the check early, since every request would fail
// the same way.
import type { Logger } from "pino";
import { ProviderError } from "../provider.ts";
import type { ComputeClients } from "./compute-clients.ts";
import { familiesFor, supportsConfidential } from "./confidential.ts";
import type { GcpProviderConfig } from "./config.ts";
import { explainGceError } from "./explain-error.ts";
import { describeFailure, gceFailure, isNotFound, isPermissionDenied } from "./gce-error.ts";
import type { MachineCatalog } from "./machine-catalog.ts";
import { OWNER_KEYS } from "./ownership.ts";
import { type RetryTuning, withRetries } from "./retry.ts";

export interface CheckContext {
  readonly config: GcpProviderConfig;
  readonly clients: ComputeClients;
  readonly catalog: MachineCatalog;
  readonly tuning: RetryTuning;
  readonly logger: Logger;
  /** Names the credential, for messages. */
  readonly auth: string;
}

export async function checkGcpSetup(ctx: CheckContext, signal: AbortSignal): Promise<void> {
  const { config, clients } = ctx;
  const problems: string[] = [];
  const call = { project: config.projectId };
  const options = () => clients.call(signal);
  // One look at a resource: missing → `missing`; anything else in Google's words.
  const probe = async (
    variable: string,
    value: string,
    missing: string,
    request: () => Promise<unknown>,
  ): Promise<boolean> => {
    try {
      await withRetries(`checking ${variable}`, request, ctx.tuning, ctx.logger, signal);
      return true;
    } catch (err) {
      const f = gceFailure(err);
      if (f.token !== undefined || f.status === 401) throw explainGceError(err, `checking ${variable}`, ctx.auth);
      signal.throwIfAborted();
      if (isNotFound(f) && /projects\/[^/'"]+['"]/.test(f.message) && !/\/(zones|global|regions)\//.test(f.message)) {
        problems.push(`GCP_PROJECT_ID=${config.projectId}: ${describeFailure(f)}`);
      } else if (isNotFound(f)) {
        problems.push(`${variable}=${value}: ${missing}`);
      } else if (isPermissionDenied(f)) {
        problems.push(
          `${variable}=${value}: ${ctx.auth} may not read it (${f.permission ?? "permission denied"}): ${describeFailure(f)}`,
        );
      } else {
        problems.push(`${variable}=${value}: ${explainGceError(err, `checking ${variable}`, ctx.auth).message}`);
      }
      return false;
    }
  };

  const zoneOk = await probe("GCP_ZONE", config.zone, `no such zone in project ${config.projectId}`, () =>
    clients.zones.get({ ...call, zone: config.zone }, options()),
  );
  const [, networkName] = /\/global\/networks\/(.+)$/.exec(config.network) ?? [];
  const networkProject = config.network.split("/")[1] ?? config.projectId;
  const checks: Array<Promise<unknown>> = [
    probe("GCP_NETWORK", config.network, "network not found", () =>
      clients.networks.get({ project: networkProject, network: networkName ?? "" }, options()),
    ),
    probe(
      "PODVM_IMAGE_NAME",
      config.image.path,
      config.image.kind === "family" ? "no image in that family" : "image not found",
      () =>
        config.image.kind === "family"
          ? clients.images.getFromFamily({ project: config.image.project, family: config.image.family }, options())
          : clients.images.get({ project: config.image.project, image: config.image.name }, options()),
    ),
    probe("GCP_ZONE", config.zone, "the credential may not list instances here", () =>
      clients.instances.list(
        { ...call, zone: config.zone, maxResults: 1, filter: `labels.${OWNER_KEYS.cluster}:*` },
        options(),
      ),
    ),
  ];
  const subnetwork = config.subnetwork;
  if (subnetwork !== undefined) {
    const [, subProject, , subRegion, , subName] = subnetwork.split("/");
    checks.push(
      probe("GCP_SUBNETWORK", subnetwork, "subnetwork not found", () =>
        clients.subnetworks.get(
          { project: subProject ?? "", region: subRegion ?? "", subnetwork: subName ?? "" },
          options(),
        ),
      ),
    );
  }
  await Promise.all(checks);

  if (zoneOk) {
    let catalog: ReadonlyMap<string, unknown> | undefined;
    await probe("GCP_ZONE", config.zone, "the zone lists no machine types", async () => {
      catalog = await ctx.catalog.all(signal);
    });
    if (catalog !== undefined) {
      if (!catalog.has(config.machineType))
        problems.push(`GCP_MACHINE_TYPE=${config.machineType}: zone ${config.zone} offers no such machine type`);
      const unknown = config.instanceTypes.filter((t) => !catalog!.has(t));
      if (unknown.length > 0)
        problems.push(
          `GCP_INSTANCE_TYPES=${config.instanceTypes.join(",")}: zone ${config.zone} offers no machine type ${unknown.join(", ")}`,
        );
    }
  }
  const ct = config.confidentialType;
  if (ct !== undefined) {
    const plain = [...new Set([config.machineType, ...config.instanceTypes])].filter(
      (t) => !supportsConfidential(t, ct),
    );
    if (plain.length > 0) {
      problems.push(
        `GCP_CONFIDENTIAL_TYPE=${ct}: machine type ${plain.join(", ")} cannot run it (${ct} runs on ${familiesFor(ct).join(", ")}); set GCP_MACHINE_TYPE/GCP_INSTANCE_TYPES to such types or DISABLECVM=true`,
      );
    }
  }
  if (config.rootVolumeSizeGiB !== undefined) {
    // The image's own size is the smallest boot disk it fits on.
    try {
      const [img] =
        config.image.kind === "family"
          ? await clients.images.getFromFamily(
              { project: config.image.project, family: config.image.family },
              options(),
            )
          : await clients.images.get({ project: config.image.project, image: config.image.name }, options());
      const need = Number(img.diskSizeGb ?? 0);
      if (need > config.rootVolumeSizeGiB)
        problems.push(`ROOT_VOLUME_SIZE=${config.rootVolumeSizeGiB}: the image needs a disk of at least ${need} GiB`);
    } catch {
      // reported above as an image problem
    }
  }

  if (problems.length > 0) {
    throw new ProviderError(`GCP configuration check failed:\n  ${[...new Set(problems)].join("\n  ")}`);
  }
}
