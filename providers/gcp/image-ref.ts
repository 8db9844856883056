// The pod VM image as PODVM_IMAGE_NAME (or the pod's image annotation) names it: a name in the
// provider's project, a project-qualified image or image family, or the same as a full URL.

export type ImageRef =
  | { readonly kind: "image"; readonly project: string; readonly name: string; readonly path: string }
  | { readonly kind: "family"; readonly project: string; readonly family: string; readonly path: string };

export const IMAGE_EXPECTED =
  "an image name, projects/PROJECT/global/images/NAME or projects/PROJECT/global/images/family/FAMILY";

const NAME = /^[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$/;
const QUALIFIED = /^projects\/([^/]+)\/global\/images\/(?:(family)\/)?([a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)$/;

/** `project` is where a bare name lives; undefined when `text` names no image. */
export function parseImageRef(text: string, project: string): ImageRef | undefined {
  const t = text
    .trim()
    .replace(/^https:\/\/[^/]+\/compute\/v1\//, "")
    .replace(/^\/+/, "");
  if (NAME.test(t)) return { kind: "image", project, name: t, path: `projects/${project}/global/images/${t}` };
  const m = QUALIFIED.exec(t);
  if (m === null) return undefined;
  const [, p, family, name] = m;
  return family === undefined
    ? { kind: "image", project: p!, name: name!, path: t }
    : { kind: "family", project: p!, family: name!, path: t };
}
