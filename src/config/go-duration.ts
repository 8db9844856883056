// Go duration strings ("300s", "5m", "1h30m", "1.5h", "100ms"), as upstream's PROXY_TIMEOUT and
// friends are written. Parsing follows Go's time.ParseDuration so a ConfigMap that works upstream
// works here, and one Go rejects (a bare "300") is rejected here too.

/** What every duration error tells the operator to write instead. */
export const GO_DURATION_EXPECTED = "a Go duration such as 5m or 300s";

const NANOS_PER_UNIT: ReadonlyMap<string, bigint> = new Map([
  ["ns", 1n],
  ["us", 1_000n],
  ["\u00b5s", 1_000n], // micro sign, as Go prints it
  ["\u03bcs", 1_000n], // Greek mu, which Go also accepts
  ["ms", 1_000_000n],
  ["s", 1_000_000_000n],
  ["m", 60_000_000_000n],
  ["h", 3_600_000_000_000n],
]);

// Go stores durations in an int64 of nanoseconds; anything larger is out of range there too.
const MAX_NANOS = (1n << 63n) - 1n;

/** A string that is not a Go duration; `hint` says what in particular is wrong, when known. */
export class GoDurationError extends Error {
  readonly input: string;
  readonly hint: string | undefined;

  constructor(input: string, hint?: string) {
    super(`${JSON.stringify(input)} is not ${GO_DURATION_EXPECTED}${hint === undefined ? "" : ` (${hint})`}`);
    this.name = "GoDurationError";
    this.input = input;
    this.hint = hint;
  }
}

/** Parses a Go duration string into an exact count of nanoseconds (may be negative). */
export function parseGoDurationNanos(input: string): bigint {
  let rest = input;
  let negative = false;
  if (rest.startsWith("-") || rest.startsWith("+")) {
    negative = rest.startsWith("-");
    rest = rest.slice(1);
  }
  // Go's one unit-less exception.
  if (rest === "0") return 0n;
  if (rest === "") throw new GoDurationError(input);

  let total = 0n;
  while (rest !== "") {
    const number = /^(\d*)(?:\.(\d*))?/.exec(rest);
    const whole = number?.[1] ?? "";
    const fraction = number?.[2] ?? "";
    if (whole === "" && fraction === "") throw new GoDurationError(input);
    rest = rest.slice(number?.[0].length ?? 0);

    const unitMatch = /^[^\d.]+/.exec(rest);
    if (unitMatch === null) {
      throw new GoDurationError(input, "a number needs a unit: ns, us, ms, s, m or h");
    }
    const unit = unitMatch[0];
    const nanosPerUnit = NANOS_PER_UNIT.get(unit);
    if (nanosPerUnit === undefined) {
      throw new GoDurationError(input, `unknown unit ${JSON.stringify(unit)}`);
    }
    rest = rest.slice(unit.length);

    // Exact integer arithmetic: "1.1s" must be 1100ms, not 1100.0000000000002.
    let nanos = BigInt(whole === "" ? "0" : whole) * nanosPerUnit;
    if (fraction !== "") {
      nanos += (BigInt(fraction) * nanosPerUnit) / 10n ** BigInt(fraction.length);
    }
    total += nanos;
    if (total > MAX_NANOS) throw new GoDurationError(input, "out of range");
  }
  return negative ? -total : total;
}

/** Parses a Go duration string into milliseconds (fractional below one millisecond). */
export function parseGoDuration(input: string): number {
  return Number(parseGoDurationNanos(input)) / 1e6;
}

/** Formats milliseconds the way Go prints a time.Duration: "5m0s", "1h30m0s", "1.5s", "100ms". */
export function formatGoDuration(milliseconds: number): string {
  if (!Number.isFinite(milliseconds)) throw new RangeError(`cannot format ${milliseconds} as a duration`);
  const signed = BigInt(Math.round(milliseconds * 1e6));
  const sign = signed < 0n ? "-" : "";
  const nanos = signed < 0n ? -signed : signed;
  if (nanos === 0n) return "0s";
  if (nanos < 1_000n) return `${sign}${nanos}ns`;
  if (nanos < 1_000_000n) return `${sign}${decimal(nanos, 1_000n, 3)}\u00b5s`;
  if (nanos < 1_000_000_000n) return `${sign}${decimal(nanos, 1_000_000n, 6)}ms`;

  const hours = nanos / 3_600_000_000_000n;
  const minutes = (nanos / 60_000_000_000n) % 60n;
  const seconds = decimal(nanos % 60_000_000_000n, 1_000_000_000n, 9);
  if (hours > 0n) return `${sign}${hours}h${minutes}m${seconds}s`;
  if (minutes > 0n) return `${sign}${minutes}m${seconds}s`;
  return `${sign}${seconds}s`;
}

/** `value / unit` as a decimal string without trailing zeros. */
function decimal(value: bigint, unit: bigint, digits: number): string {
  const whole = value / unit;
  const remainder = value % unit;
  if (remainder === 0n) return `${whole}`;
  const fraction = remainder.toString().padStart(digits, "0").replace(/0+$/, "");
  return `${whole}.${fraction}`;
}
