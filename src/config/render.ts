// Human-readable views of a spec: the README's Markdown table and the -help text.

import type { Field } from "./field.ts";
import type { ConfigSpec } from "./spec.ts";

function defaultText(field: Field<unknown>): string | undefined {
  if (typeof field.default === "function") return field.defaultDoc ?? "computed at start";
  return field.default;
}

function cell(text: string): string {
  return text.replaceAll("|", "\\|").replaceAll("\n", " ");
}

function code(text: string): string {
  return `\`${text}\``;
}

/** A Markdown table: Variable | Flag | Default | Description, one row per field in spec order. */
export function renderSpecMarkdown(spec: ConfigSpec): string {
  const rows = Object.values(spec).map((field) => {
    const flags = field.flags.map((flag) => code(`-${flag}`)).join(", ");
    const fallback = defaultText(field);
    const shownDefault = field.required
      ? "*(required)*"
      : fallback === undefined
        ? ""
        : typeof field.default === "function"
          ? cell(fallback)
          : code(cell(fallback));
    const description = field.secret ? `${field.description} (secret)` : field.description;
    return `| ${code(field.env)} | ${flags} | ${shownDefault} | ${cell(description)} |`;
  });
  return `${["| Variable | Flag | Default | Description |", "| --- | --- | --- | --- |", ...rows].join("\n")}\n`;
}

/** Usage text for -help, in the shape of Go's flag.PrintDefaults. */
export function renderFlagHelp(spec: ConfigSpec): string {
  const blocks = Object.values(spec).map((field) => {
    const names = field.flags.length === 0 ? "(no flag)" : field.flags.map((flag) => `-${flag}`).join(", ");
    const fallback = defaultText(field);
    const facts = [
      `env ${field.env}`,
      field.required ? "required" : fallback === undefined ? undefined : `default ${fallback}`,
    ]
      .filter((fact) => fact !== undefined)
      .join(", ");
    return `  ${names} ${field.kind} (${facts})\n      ${field.description}`;
  });
  return `${blocks.join("\n")}\n`;
}
