// Builders for each kind of setting. Each returns a Field whose value type follows from the
// options: `default` or `required: true` make it always present, otherwise it may be undefined.

import { isIP } from "node:net";
import { TIMER_MAX_MS } from "../util/timer-limit.ts";
import {
  accept,
  type Field,
  type FieldKindParts,
  type FieldOptions,
  type FieldValue,
  makeField,
  type Parsed,
  reject,
} from "./field.ts";
import { formatGoDuration, GO_DURATION_EXPECTED, GoDurationError, parseGoDuration } from "./go-duration.ts";

export interface IntFieldOptions extends FieldOptions {
  readonly min?: number;
  readonly max?: number;
}

export interface DurationFieldOptions extends FieldOptions {
  /** Smallest accepted duration in milliseconds; 0 unless given (negative timeouts make no sense). */
  readonly minMs?: number;
  /** Largest accepted duration in milliseconds; 24h unless given. Never above TIMER_MAX_MS: a
   * longer timer fires at once (RECONCILE_INTERVAL=720h became a busy loop of provider calls). */
  readonly maxMs?: number;
}

/** The bound of a duration whose field names none: longer than any sane timeout or interval. */
export const DEFAULT_MAX_DURATION_MS = 24 * 3_600_000;

export interface EnumFieldOptions<V extends string> extends FieldOptions {
  readonly values: readonly V[];
}

// The value type depends on the options, which TypeScript cannot see through inside a generic
// body; the builders below are the only place that asserts it.
function typed<T, O>(options: FieldOptions, parts: FieldKindParts<T>): Field<FieldValue<T, O>> {
  return makeField(options, parts) as unknown as Field<FieldValue<T, O>>;
}

/** Free text. */
export function stringField<const O extends FieldOptions>(options: O): Field<FieldValue<string, O>> {
  return typed<string, O>(options, { kind: "string", expected: "a non-empty string", parse: accept });
}

/** An IPv4 or IPv6 address, as a listener binds it (no host names: they may resolve to many). */
export function ipField<const O extends FieldOptions>(options: O): Field<FieldValue<string, O>> {
  const expected = "an IPv4 or IPv6 address";
  return typed<string, O>(options, {
    kind: "ip",
    expected,
    parse: (raw) => (isIP(raw) === 0 ? reject(expected) : accept(raw)),
  });
}

// Like Go's strconv.Atoi: optional sign, decimal digits, nothing else.
const INTEGER = /^[+-]?\d+$/;

function parseInteger(raw: string, expected: string, min: number, max: number): Parsed<number> {
  if (!INTEGER.test(raw)) return reject(expected);
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min || value > max) return reject(expected);
  return accept(value === 0 ? 0 : value); // no -0
}

function describeRange(min: number | undefined, max: number | undefined): string {
  if (min !== undefined && max !== undefined) return `an integer from ${min} to ${max}`;
  if (min !== undefined) return `an integer of at least ${min}`;
  if (max !== undefined) return `an integer of at most ${max}`;
  return "an integer";
}

/** A decimal integer, optionally bounded. */
export function intField<const O extends IntFieldOptions>(options: O): Field<FieldValue<number, O>> {
  const expected = describeRange(options.min, options.max);
  const min = options.min ?? Number.MIN_SAFE_INTEGER;
  const max = options.max ?? Number.MAX_SAFE_INTEGER;
  return typed<number, O>(options, { kind: "int", expected, parse: (raw) => parseInteger(raw, expected, min, max) });
}

/** A TCP/UDP port, 1 to 65535. */
export function portField<const O extends FieldOptions>(options: O): Field<FieldValue<number, O>> {
  const expected = "a port number from 1 to 65535";
  return typed<number, O>(options, { kind: "port", expected, parse: (raw) => parseInteger(raw, expected, 1, 65535) });
}

// Go's strconv.ParseBool words (1, t, true, 0, f, false in any case) plus yes/no.
const TRUE_WORDS: ReadonlySet<string> = new Set(["1", "t", "true", "yes"]);
const FALSE_WORDS: ReadonlySet<string> = new Set(["0", "f", "false", "no"]);

/** A yes/no switch. As a flag it needs no value: `-disable-tls` means true. */
export function boolField<const O extends FieldOptions>(options: O): Field<FieldValue<boolean, O>> {
  const expected = "true or false (also 1/0, yes/no)";
  return typed<boolean, O>(options, {
    kind: "bool",
    expected,
    parse: (raw) => {
      const word = raw.toLowerCase();
      if (TRUE_WORDS.has(word)) return accept(true);
      if (FALSE_WORDS.has(word)) return accept(false);
      return reject(expected);
    },
  });
}

/** A Go duration string; the value is in milliseconds. */
export function durationField<const O extends DurationFieldOptions>(options: O): Field<FieldValue<number, O>> {
  const minMs = options.minMs ?? 0;
  const maxMs = options.maxMs ?? DEFAULT_MAX_DURATION_MS;
  if (!(maxMs <= TIMER_MAX_MS && maxMs >= minMs))
    throw new RangeError(
      `duration ${options.env}: maxMs ${maxMs} must be from minMs to ${TIMER_MAX_MS} (Node's timer limit)`,
    );
  const range =
    minMs === 0
      ? `at most ${formatGoDuration(maxMs)}`
      : `from ${formatGoDuration(minMs)} to ${formatGoDuration(maxMs)}`;
  const expected = `${GO_DURATION_EXPECTED}, ${range}`;
  return typed<number, O>(options, {
    kind: "duration",
    expected,
    parse: (raw) => {
      try {
        const ms = parseGoDuration(raw);
        return ms < minMs || ms > maxMs ? reject(expected) : accept(ms);
      } catch (error) {
        if (!(error instanceof GoDurationError)) throw error;
        // The hint may quote part of the value, so a secret gets none.
        return reject(error.hint === undefined || options.secret === true ? expected : `${expected} (${error.hint})`);
      }
    },
    show: (ms) => formatGoDuration(ms),
  });
}

/** Comma-separated items; blanks around items and empty items are dropped. */
export function listField<const O extends FieldOptions>(options: O): Field<FieldValue<readonly string[], O>> {
  return typed<readonly string[], O>(options, {
    kind: "list",
    expected: "a comma-separated list",
    parse: (raw) =>
      accept(
        Object.freeze(
          raw
            .split(",")
            .map((item) => item.trim())
            .filter((item) => item !== ""),
        ),
      ),
  });
}

/** Comma-separated key=value pairs, like upstream's TAGS "k1=v1,k2=v2". Keys must be unique. */
export function mapField<const O extends FieldOptions>(options: O): Field<FieldValue<ReadonlyMap<string, string>, O>> {
  const expected = "comma-separated key=value pairs such as k1=v1,k2=v2";
  // The hint quotes the faulty item, unless that would reveal part of a secret.
  const quote = (text: string, generic: string): string => (options.secret === true ? generic : JSON.stringify(text));
  return typed<ReadonlyMap<string, string>, O>(options, {
    kind: "map",
    expected,
    parse: (raw) => {
      const pairs = new Map<string, string>();
      for (const item of raw.split(",")) {
        if (item.trim() === "") continue;
        const equals = item.indexOf("=");
        if (equals < 0) return reject(`${expected} (${quote(item.trim(), "an item")} has no "=")`);
        const key = item.slice(0, equals).trim();
        if (key === "") return reject(`${expected} (${quote(item.trim(), "an item")} has an empty key)`);
        if (pairs.has(key)) return reject(`${expected} (${quote(key, "a key")} appears twice)`);
        pairs.set(key, item.slice(equals + 1).trim());
      }
      return accept(pairs);
    },
    show: (pairs) => Object.fromEntries(pairs),
  });
}

/** One of a fixed set of words, matched without regard to case. */
export function enumField<const O extends EnumFieldOptions<string>>(
  options: O,
): Field<FieldValue<O["values"][number], O>> {
  type V = O["values"][number];
  const expected = `one of ${options.values.join(", ")}`;
  return typed<V, O>(options, {
    kind: "enum",
    expected,
    parse: (raw) => {
      const found: V | undefined = options.values.find((value) => value.toLowerCase() === raw.toLowerCase());
      return found === undefined ? reject(expected) : accept(found);
    },
  });
}
