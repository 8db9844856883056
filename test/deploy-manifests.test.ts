// The Kubernetes manifests: every overlay renders with `kubectl kustomize`, and the rendered
// objects carry what the daemon and the webhook expect (names, ports, paths, variables).
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import packageJson from "../package.json" with { type: "json" };
import { awsConfigSpec } from "../providers/aws/config.ts";
import { azureConfigSpec } from "../providers/azure/config.ts";
import { gcpConfigSpec } from "../providers/gcp/config.ts";
import { localConfigSpec } from "../providers/local/config.ts";
import { daemonConfigSpec } from "../src/config/index.ts";
import { MUTATE_PATH, SYSTEM_NAMESPACES, webhookConfigSpec } from "../src/webhook/index.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const KUBECTL = process.env.KUBECTL ?? "kubectl";
const OVERLAYS = ["local", "aws", "azure", "gcp", "libvirt", "vsphere"] as const;
const NAMESPACE = "confidential-containers-system";

// A loose view of rendered objects: the tests index into them freely.
type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  [key: string]: any;
};

const rendered = new Map<string, K8sObject[]>();

async function kustomize(overlay: string): Promise<K8sObject[]> {
  const { stdout } = await promisify(execFile)(KUBECTL, ["kustomize", path.join(ROOT, "deploy/overlays", overlay)], {
    maxBuffer: 16 << 20,
  });
  return parseAllDocuments(stdout).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${overlay}: ${doc.errors[0]!.message}`);
    return doc.toJS() as K8sObject;
  });
}

// A missing kubectl fails every test with the reason (never a skip).
let renderError: Error | undefined;

beforeAll(async () => {
  try {
    await promisify(execFile)(KUBECTL, ["version", "--client"]);
  } catch (err) {
    renderError = new Error(
      `"${KUBECTL}" cannot run (${(err as Error).message.split("\n")[0]}): install kubectl (Debian: apt-get install kubernetes-client) or set KUBECTL`,
    );
    return;
  }
  const all = await Promise.all(OVERLAYS.map(async (o) => [o, await kustomize(o).catch((err: Error) => err)] as const));
  for (const [o, result] of all) {
    if (result instanceof Error)
      renderError ??= new Error(`kubectl kustomize deploy/overlays/${o} failed: ${result.message}`);
    else rendered.set(o, result);
  }
});

function objects(overlay: string): K8sObject[] {
  if (renderError !== undefined) throw renderError;
  const found = rendered.get(overlay);
  if (found === undefined) throw new Error(`overlay ${overlay} did not render`);
  return found;
}

function one(overlay: string, kind: string, name?: string): K8sObject {
  const matches = objects(overlay).filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  expect(matches, `${overlay}: exactly one ${kind} ${name ?? ""}`).toHaveLength(1);
  return matches[0]!;
}

describe.each(OVERLAYS)("overlay %s", (overlay) => {
  it("renders the base and the provider's configuration", () => {
    const names = objects(overlay)
      .map((o) => `${o.kind}/${o.metadata.name}`)
      .sort();
    expect(names).toEqual(
      [
        "Certificate/peerpods-webhook",
        "ClusterRole/peerpods-node-capacity",
        "ClusterRoleBinding/peerpods-node-capacity",
        "ClusterRole/peerpods-registry-auth",
        "ClusterRoleBinding/peerpods-registry-auth",
        "ConfigMap/peer-pods-cm",
        "DaemonSet/cloud-api-adaptor",
        "DaemonSet/peerpod-relay",
        "Deployment/peerpods-webhook",
        "Issuer/peerpods-webhook-selfsigned",
        "MutatingWebhookConfiguration/peerpods-webhook",
        "Namespace/confidential-containers-system",
        "PodDisruptionBudget/peerpods-webhook",
        "RuntimeClass/kata-remote",
        "Secret/peer-pods-secret",
        "Service/peerpods-webhook",
        "ServiceAccount/cloud-api-adaptor",
        "ServiceAccount/peerpods-webhook",
      ].sort(),
    );
    const clusterScoped = new Set([
      "Namespace",
      "ClusterRole",
      "ClusterRoleBinding",
      "RuntimeClass",
      "MutatingWebhookConfiguration",
    ]);
    for (const o of objects(overlay))
      expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe(
        clusterScoped.has(o.kind) ? undefined : NAMESPACE,
      );
    expect(one(overlay, "ConfigMap", "peer-pods-cm").data.CLOUD_PROVIDER).toBe(overlay);
    expect(one(overlay, "Secret", "peer-pods-secret").type).toBe("Opaque");
  });

  it("runs the daemon on worker nodes with host networking and only the network capabilities", () => {
    const ds = one(overlay, "DaemonSet", "cloud-api-adaptor");
    const pod = ds.spec.template.spec;
    expect(ds.spec.updateStrategy).toEqual({ type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1 } });
    expect(pod.hostNetwork).toBe(true);
    expect(pod.nodeSelector).toEqual({ "node.kubernetes.io/worker": "" });
    expect(pod.serviceAccountName).toBe("cloud-api-adaptor");
    expect(pod.containers).toHaveLength(1);
    const c = pod.containers[0];
    expect(c.image).toBe("localhost/cloud-api-adaptor:dev");
    expect(c.command).toBeUndefined(); // the image's entrypoint: cloud-api-adaptor
    expect(c.securityContext.privileged).toBe(false);
    expect(c.securityContext.capabilities).toEqual({ drop: ["ALL"], add: ["NET_ADMIN", "SYS_ADMIN"] });
    expect(c.securityContext.readOnlyRootFilesystem).toBe(true);
    expect(c.securityContext.seccompProfile).toEqual({ type: "RuntimeDefault" });
    expect(c.resources.requests).toEqual({ cpu: "100m", memory: "192Mi" });
  });

  it("runs peerpod-relay beside the daemon: same nodes and socket folder, never rolled automatically, no capabilities", () => {
    const relay = one(overlay, "DaemonSet", "peerpod-relay");
    const daemon = one(overlay, "DaemonSet", "cloud-api-adaptor");
    expect(relay.spec.updateStrategy).toEqual({ type: "OnDelete" });
    const pod = relay.spec.template.spec;
    expect(pod.nodeSelector).toEqual(daemon.spec.template.spec.nodeSelector);
    expect(pod.hostNetwork).toBe(true);
    expect(pod.automountServiceAccountToken).toBe(false);
    const c = pod.containers[0];
    expect(c.image).toBe(daemon.spec.template.spec.containers[0].image);
    expect(c.command.at(-1)).toBe(`/app/${packageJson.bin["peerpod-relay"]}`);
    expect(c.securityContext.capabilities).toEqual({ drop: ["ALL"] });
    expect(c.securityContext.readOnlyRootFilesystem).toBe(true);
    const socketMount = (p: typeof pod) => {
      const m = p.containers[0].volumeMounts.find((v: { mountPath: string }) => v.mountPath === "/run/peerpod");
      return p.volumes.find((v: { name: string }) => v.name === m.name).hostPath;
    };
    expect(socketMount(pod)).toEqual(socketMount(daemon.spec.template.spec));
    expect(path.dirname(daemonConfigSpec.relaySocket.default as string)).toBe("/run/peerpod");
    expect(daemon.spec.template.spec.containers[0].env).toContainEqual({ name: "START_RELAY", value: "false" });
  });

  it("mounts the shim's socket folder, pod network namespaces and the state folder from the host", () => {
    const pod = one(overlay, "DaemonSet", "cloud-api-adaptor").spec.template.spec;
    const c = pod.containers[0];
    const hostPathOf = (mountPath: string) => {
      const mount = c.volumeMounts.find((m: { mountPath: string }) => m.mountPath === mountPath);
      expect(mount, `mount ${mountPath}`).toBeDefined();
      const volume = pod.volumes.find((v: { name: string }) => v.name === mount.name);
      return { mount, hostPath: volume.hostPath };
    };
    const socketDir = path.dirname(daemonConfigSpec.socketPath.default as string);
    expect(socketDir).toBe("/run/peerpod");
    expect(hostPathOf(socketDir).hostPath).toEqual({ path: "/run/peerpod", type: "DirectoryOrCreate" });
    expect((daemonConfigSpec.podsDir.default as string).startsWith(`${socketDir}/`)).toBe(true);
    const netns = hostPathOf("/run/netns");
    expect(netns.hostPath).toEqual({ path: "/run/netns", type: "DirectoryOrCreate" });
    expect(netns.mount.mountPropagation).toBe("HostToContainer");
    const stateDir = c.env.find((e: { name: string }) => e.name === "CAA_STATE_DIR").value;
    expect(stateDir).toBe(daemonConfigSpec.stateDir.default);
    expect(hostPathOf(stateDir).hostPath).toEqual({ path: stateDir, type: "DirectoryOrCreate" });
  });

  it("configures the daemon from peer-pods-cm, peer-pods-secret and the downward API", () => {
    const c = one(overlay, "DaemonSet", "cloud-api-adaptor").spec.template.spec.containers[0];
    expect(c.envFrom).toEqual([
      { configMapRef: { name: "peer-pods-cm" } },
      { secretRef: { name: "peer-pods-secret", optional: true } },
    ]);
    expect(c.env).toContainEqual({ name: "NODE_NAME", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } });
  });

  it("probes the daemon's endpoints on PROBE_PORT", () => {
    const c = one(overlay, "DaemonSet", "cloud-api-adaptor").spec.template.spec.containers[0];
    const probePort = one(overlay, "ConfigMap", "peer-pods-cm").data.PROBE_PORT ?? daemonConfigSpec.probePort.default;
    expect(probePort).toBe(daemonConfigSpec.probePort.default);
    expect(c.ports).toEqual([{ name: "probes", containerPort: Number(probePort), protocol: "TCP" }]);
    expect(c.startupProbe.httpGet).toEqual({ path: "/startup", port: "probes" });
    expect(c.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "probes" });
    expect(c.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "probes" });
  });

  it("grants the daemon only what node capacity and registry credentials need", () => {
    expect(one(overlay, "ClusterRole", "peerpods-node-capacity").rules).toEqual([
      { apiGroups: [""], resources: ["namespaces"], resourceNames: ["kube-system"], verbs: ["get"] },
      { apiGroups: [""], resources: ["nodes"], verbs: ["get"] },
      { apiGroups: [""], resources: ["nodes/status"], verbs: ["patch"] },
    ]);
    // get by name only: no list or watch, so the daemon cannot enumerate secrets.
    expect(one(overlay, "ClusterRole", "peerpods-registry-auth").rules).toEqual([
      { apiGroups: [""], resources: ["pods", "serviceaccounts", "secrets"], verbs: ["get"] },
    ]);
    for (const name of ["peerpods-node-capacity", "peerpods-registry-auth"]) {
      const binding = one(overlay, "ClusterRoleBinding", name);
      expect(binding.roleRef).toEqual({ apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name });
      expect(binding.subjects).toEqual([{ kind: "ServiceAccount", name: "cloud-api-adaptor", namespace: NAMESPACE }]);
    }
    expect(objects(overlay).filter((o) => o.kind === "Role" || o.kind === "RoleBinding")).toEqual([]);
  });

  it("defines the kata-remote RuntimeClass on the daemon's nodes", () => {
    const rc = one(overlay, "RuntimeClass", "kata-remote");
    expect(rc.apiVersion).toBe("node.k8s.io/v1");
    expect(rc.handler).toBe("kata-remote");
    expect(rc.overhead).toEqual({ podFixed: { cpu: "250m", memory: "350Mi" } });
    expect(rc.scheduling.nodeSelector).toEqual(
      one(overlay, "DaemonSet", "cloud-api-adaptor").spec.template.spec.nodeSelector,
    );
  });

  it("sends only peer pod creations outside system namespaces to the webhook, failing closed", () => {
    const config = one(overlay, "MutatingWebhookConfiguration");
    expect(config.webhooks).toHaveLength(1);
    const hook = config.webhooks[0];
    expect(hook.admissionReviewVersions).toEqual(["v1"]);
    expect(hook.sideEffects).toBe("None");
    expect(hook.failurePolicy).toBe("Fail");
    expect(hook.reinvocationPolicy).toBe("IfNeeded");
    expect(hook.rules).toEqual([
      { operations: ["CREATE"], apiGroups: [""], apiVersions: ["v1"], resources: ["pods"], scope: "Namespaced" },
    ]);
    const service = one(overlay, "Service", "peerpods-webhook");
    expect(hook.clientConfig.service).toEqual({
      name: service.metadata.name,
      namespace: service.metadata.namespace,
      path: MUTATE_PATH,
      port: service.spec.ports[0].port,
    });
    expect(hook.namespaceSelector.matchExpressions).toEqual([
      { key: "kubernetes.io/metadata.name", operator: "NotIn", values: [...SYSTEM_NAMESPACES, NAMESPACE] },
    ]);
    const runtimeClass = one(overlay, "RuntimeClass").metadata.name;
    expect(hook.matchConditions).toEqual([
      {
        name: "peer-pods-only",
        expression: `has(object.spec.runtimeClassName) && object.spec.runtimeClassName == '${runtimeClass}'`,
      },
    ]);
    const cert = one(overlay, "Certificate", "peerpods-webhook");
    expect(config.metadata.annotations?.["cert-manager.io/inject-ca-from"]).toBe(
      `${cert.metadata.namespace}/${cert.metadata.name}`,
    );
    expect(cert.spec.dnsNames).toContain(`${service.metadata.name}.${service.metadata.namespace}.svc`);
  });

  it("runs the webhook from the same image, unprivileged, with the certificate cert-manager renews", () => {
    const deployment = one(overlay, "Deployment", "peerpods-webhook");
    const pod = deployment.spec.template.spec;
    const c = pod.containers[0];
    expect(deployment.spec.replicas).toBeGreaterThanOrEqual(2);
    expect(c.image).toBe(one(overlay, "DaemonSet", "cloud-api-adaptor").spec.template.spec.containers[0].image);
    expect(c.command).toEqual(["peerpods-webhook"]);
    expect(Object.keys(packageJson.bin)).toContain("peerpods-webhook");
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(c.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
    });

    const env = Object.fromEntries(c.env.map((e: { name: string; value?: string }) => [e.name, e.value]));
    const known = new Set(Object.values(webhookConfigSpec).map((f) => f.env));
    for (const name of Object.keys(env)) expect(known, `webhook variable ${name}`).toContain(name);
    expect(env.TARGET_RUNTIME_CLASS).toBe(one(overlay, "RuntimeClass").metadata.name);
    expect(c.env).toContainEqual({
      name: "POD_NAMESPACE",
      valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } },
    });
    const service = one(overlay, "Service", "peerpods-webhook");
    const port = c.ports.find((p: { name: string }) => p.name === service.spec.ports[0].targetPort);
    expect(port.containerPort).toBe(Number(env.WEBHOOK_PORT));
    expect(service.spec.selector).toEqual(deployment.spec.selector.matchLabels);
    for (const probe of [c.readinessProbe, c.livenessProbe]) expect(probe.httpGet.scheme).toBe("HTTPS");

    const tlsMount = c.volumeMounts.find((m: { name: string }) => m.name === "tls");
    expect(path.dirname(env.TLS_CERT_FILE)).toBe(tlsMount.mountPath);
    expect(path.dirname(env.TLS_KEY_FILE)).toBe(tlsMount.mountPath);
    const secretName = pod.volumes.find((v: { name: string }) => v.name === "tls").secret.secretName;
    expect(secretName).toBe(one(overlay, "Certificate").spec.secretName);
  });
});

describe("provider configuration", () => {
  const specs: Record<string, object> = {
    local: localConfigSpec,
    aws: awsConfigSpec,
    azure: azureConfigSpec,
    gcp: gcpConfigSpec,
  };

  it.each(Object.keys(specs))(
    "peer-pods-cm and peer-pods-secret of %s use only variables the daemon reads",
    (overlay) => {
      const known = new Set(
        [...Object.values(daemonConfigSpec), ...Object.values(specs[overlay]!)].map((f) => (f as { env: string }).env),
      );
      const keys = [
        ...Object.keys(one(overlay, "ConfigMap").data),
        ...Object.keys(one(overlay, "Secret").stringData ?? {}),
      ];
      expect(keys.length).toBeGreaterThan(1);
      for (const key of keys) expect(known, `${overlay}: ${key}`).toContain(key);
    },
  );

  it("keeps credentials out of the ConfigMaps", () => {
    for (const overlay of OVERLAYS) {
      const keys = Object.keys(one(overlay, "ConfigMap").data).join(" ");
      expect(keys).not.toMatch(/SECRET|PASSWORD|ACCESS_KEY|TOKEN/);
    }
  });
});
