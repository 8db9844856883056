import { describe, expect, it } from "vitest";
import { daemonConfigSpec } from "../daemon-config.ts";
import { adaptUpstreamFlags } from "./upstream-flags.ts";

const adapt = (argv: string[], provider = "libvirt") => adaptUpstreamFlags(argv, provider, daemonConfigSpec);

describe("adaptUpstreamFlags", () => {
  it("turns upstream's provider and daemon flags into their variables, keeping our own flags for our parser", () => {
    const out = adapt([
      "-uri",
      "qemu:///system",
      "--pool-name=images",
      "-socket",
      "/run/x.sock",
      "-disable-cvm",
      "-disable-tls",
      "-tls-skip-verify",
      "-cpu=4",
    ]);
    expect(out.env).toEqual({
      LIBVIRT_URI: "qemu:///system",
      LIBVIRT_POOL: "images",
      DISABLECVM: "true",
      TLS_SKIP_VERIFY: "true",
      LIBVIRT_CPU: "4",
    });
    expect(out.argv).toEqual(["-socket", "/run/x.sock", "-disable-tls"]);
    expect(out.findings).toEqual([]);
  });

  it("reads the gcp image's flags as their variables; -zone is GCP_ZONE there but warned about on azure", () => {
    const gcp = adapt(
      ["-gcp-project-id", "p1", "-zone", "us-central1-a", "-image-name", "podvm", "-machine-type=n2d-standard-4"],
      "gcp",
    );
    expect(gcp.env).toEqual({
      GCP_PROJECT_ID: "p1",
      GCP_ZONE: "us-central1-a",
      PODVM_IMAGE_NAME: "podvm",
      GCP_MACHINE_TYPE: "n2d-standard-4",
    });
    expect(gcp.findings).toEqual([]);
    expect(adapt(["-gcp-image-name", "img", "-gcp-zone", "europe-west4-a"], "gcp").env).toEqual({
      PODVM_IMAGE_NAME: "img",
      GCP_ZONE: "europe-west4-a",
    });
    const azure = adapt(["-zone", "1"], "azure");
    expect(azure.env).toEqual({});
    expect(azure.findings.map((f) => f.variable)).toEqual(["-zone"]);
  });

  it("drops an upstream flag without a counterpart with a warning instead of an unknown-flag error", () => {
    const out = adapt(["-data-dir", "/opt/data-dir", "-pods-dir", "/run/pods"]);
    expect(out.argv).toEqual(["-pods-dir", "/run/pods"]);
    expect(out.findings).toEqual([
      {
        level: "warn",
        variable: "-data-dir",
        message:
          '-data-dir "/opt/data-dir": upstream flag not supported; not needed: each VM\'s disk and cidata volume are made in the storage pool LIBVIRT_POOL through libvirt, not in a local folder',
      },
    ]);
    expect(adapt(["-data-dir=/var/lib/libvirt/images"]).findings).toEqual([]);
  });

  it("knows each provider's flags only for that provider, and leaves unknown flags and arguments to the parser", () => {
    expect(adapt(["-uri", "x"], "aws")).toEqual({ argv: ["-uri", "x"], env: {}, findings: [] });
    expect(adapt(["-imageid", "ami-1", "-use-lt"], "aws").env).toEqual({
      PODVM_AMI_ID: "ami-1",
      USE_PODVM_LAUNCHTEMPLATE: "true",
    });
    expect(adapt(["-imageid", "/img", "-secret", "s3"], "azure").env).toEqual({
      AZURE_IMAGE_ID: "/img",
      AZURE_CLIENT_SECRET: "s3",
    });
    expect(adapt(["-bogus", "stray"]).argv).toEqual(["-bogus", "stray"]);
    expect(adapt(["-uri"]).argv).toEqual(["-uri"]);
  });
});
