// The start-up check against the local Compute Engine endpoint: a good setup passes, and every
// problem of a bad one is reported at once, naming its variable.
import { describe, expect, it } from "vitest";
import { gcpTestBedPerFile } from "../../test/support/gcp-test-bed.ts";
import { rejection } from "../../test/support/provider-rejection.ts";

const bed = gcpTestBedPerFile();

const signal = () => AbortSignal.timeout(30_000);

describe("gcp start-up check", () => {
  it("passes for a good setup, with a subnetwork, an image family and a machine type list", async () => {
    await bed
      .restarted({
        GCP_NETWORK: "peerpods",
        GCP_SUBNETWORK: "workers",
        PODVM_IMAGE_NAME: "projects/peerpods-test-1/global/images/family/podvm",
        GCP_INSTANCE_TYPES: "n2d-standard-2,n2d-standard-4",
      })
      .check(signal());
    // machineTypes.list was read page by page (page size 2 here).
    expect(bed.fake.requests.filter((r) => r.resource === "machineTypes").length).toBeGreaterThan(2);
  });

  it("reports every problem at once", async () => {
    const err = await rejection(
      bed
        .restarted({
          GCP_NETWORK: "nope-net",
          GCP_SUBNETWORK: "nope-sub",
          PODVM_IMAGE_NAME: "nope-image",
          GCP_MACHINE_TYPE: "n9-mega-1",
          GCP_INSTANCE_TYPES: "e2-standard-4,n2d-standard-4",
          ROOT_VOLUME_SIZE: "10",
        })
        .check(signal()),
    );
    const lines = err.message
      .split("\n")
      .slice(1)
      .map((l) => l.trim());
    expect(lines).toEqual(
      expect.arrayContaining([
        "GCP_NETWORK=projects/peerpods-test-1/global/networks/nope-net: network not found",
        "GCP_SUBNETWORK=projects/peerpods-test-1/regions/us-central1/subnetworks/nope-sub: subnetwork not found",
        "PODVM_IMAGE_NAME=projects/peerpods-test-1/global/images/nope-image: image not found",
        "GCP_MACHINE_TYPE=n9-mega-1: zone us-central1-a offers no such machine type",
        expect.stringMatching(/^GCP_CONFIDENTIAL_TYPE=SEV_SNP: machine type n9-mega-1, e2-standard-4 cannot run it/),
      ]),
    );
  });

  it("names the project and the zone when they do not exist", async () => {
    const err = await rejection(bed.restarted({ GCP_ZONE: "us-central1-z" }).check(signal()));
    expect(err.message).toMatch(/GCP_ZONE=us-central1-z: no such zone in project peerpods-test-1/);
    const err2 = await rejection(bed.restarted({ GCP_PROJECT_ID: "other-project-1" }).check(signal()));
    expect(err2.message).toMatch(/GCP_PROJECT_ID=other-project-1: .*'projects\/other-project-1' was not found/);
  });

  it("names what the credential may not read", async () => {
    bed.fake.model.denied.add("compute.instances.list");
    try {
      const err = await rejection(bed.restarted().check(signal()));
      expect(err.message).toMatch(
        /GCP_ZONE=us-central1-a: service account .* may not read it \(compute\.instances\.list\)/,
      );
    } finally {
      bed.fake.model.denied.clear();
    }
  });
});
