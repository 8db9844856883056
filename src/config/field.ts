// One configuration setting: its environment variable, its flags, how its text is parsed and
// how its value is shown in logs. Builders for each kind live in field-kinds.ts.

export type FieldKind = "string" | "int" | "bool" | "duration" | "port" | "ip" | "list" | "map" | "enum";

/** The outcome of parsing one raw value: the value, or what would have been accepted. */
export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly expected: string };

/** Options shared by every kind of field. */
export interface FieldOptions {
  /** Environment variable name, as upstream's peer-pods-cm / peer-pods-secret spell it. */
  readonly env: string;
  /** Flag name(s) without dashes; each is accepted as -name and --name. */
  readonly flag?: string | readonly string[];
  /** One line for the README table and -help. */
  readonly description: string;
  /** Default in the same text form as the variable, or a function computing it at load time. */
  readonly default?: string | (() => string);
  /** How a computed default is described in docs (e.g. "the host name"). */
  readonly defaultDoc?: string;
  /** A value must be given (no default). */
  readonly required?: boolean;
  /** Never print the value: errors and logs show "<redacted>". */
  readonly secret?: boolean;
}

/** A field's value type: always present with a default or when required, else maybe undefined. */
export type FieldValue<T, O> = O extends { readonly default: string | (() => string) }
  ? T
  : O extends { readonly required: true }
    ? T
    : T | undefined;

export interface Field<T> {
  readonly kind: FieldKind;
  readonly env: string;
  readonly flags: readonly string[];
  readonly description: string;
  readonly required: boolean;
  readonly secret: boolean;
  readonly default: string | (() => string) | undefined;
  readonly defaultDoc: string | undefined;
  /** What a valid value looks like, for errors and -help. */
  readonly expected: string;
  /** Parses trimmed, non-empty text. Never returns undefined as a value. */
  parse(raw: string): Parsed<T>;
  /** A JSON-friendly form of a present value, for logs (secrets are redacted by the caller). */
  show(value: NonNullable<T>): unknown;
}

/** The parts a kind supplies; the rest comes from the options. */
export interface FieldKindParts<T> {
  readonly kind: FieldKind;
  readonly expected: string;
  parse(raw: string): Parsed<T>;
  show?(value: NonNullable<T>): unknown;
}

export function makeField<T>(options: FieldOptions, parts: FieldKindParts<T>): Field<T> {
  const flags = options.flag === undefined ? [] : typeof options.flag === "string" ? [options.flag] : [...options.flag];
  return Object.freeze({
    kind: parts.kind,
    env: options.env,
    flags: Object.freeze(flags),
    description: options.description,
    required: options.required === true,
    secret: options.secret === true,
    default: options.default,
    defaultDoc: options.defaultDoc,
    expected: parts.expected,
    parse: parts.parse,
    show: parts.show ?? ((value: NonNullable<T>): unknown => value),
  });
}

export function accept<T>(value: T): Parsed<T> {
  return { ok: true, value };
}

export function reject<T>(expected: string): Parsed<T> {
  return { ok: false, expected };
}
