// Kubernetes resource quantities ("500m", "1.5", "128Mi", "1e3", "2G") read exactly: the value
// is returned in nano-units as a bigint, rounded up, so sums never drift the way floating point
// does (0.1 + 0.2 CPUs must not round up to an extra core).

export class QuantityError extends Error {
  override readonly name = "QuantityError";
}

const NANO = 1_000_000_000n;

// Sign, digits with an optional fraction, then one suffix: binary SI, decimal SI or an exponent.
const QUANTITY = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$/;

const BINARY_POWERS: Readonly<Record<string, bigint>> = { Ki: 10n, Mi: 20n, Gi: 30n, Ti: 40n, Pi: 50n, Ei: 60n };
const DECIMAL_EXPONENTS: Readonly<Record<string, number>> = {
  n: -9,
  u: -6,
  m: -3,
  k: 3,
  M: 6,
  G: 9,
  T: 12,
  P: 15,
  E: 18,
};

// Beyond this a quantity is no real CPU or memory amount, and 10n ** huge would stall.
const MAX_EXPONENT = 30;
const MAX_LENGTH = 64;

function ceilDiv(numerator: bigint, denominator: bigint): bigint {
  return (numerator + denominator - 1n) / denominator;
}

/** The quantity in nano-units (1 CPU = 10^9; 1 byte = 10^9), rounded up. Negative values are refused. */
export function parseQuantityNanos(text: string): bigint {
  if (text.length > MAX_LENGTH)
    throw new QuantityError(`quantity ${JSON.stringify(text.slice(0, MAX_LENGTH))}… is too long`);
  const match = QUANTITY.exec(text);
  if (match === null)
    throw new QuantityError(`${JSON.stringify(text)} is not a Kubernetes quantity (such as 500m, 2, 128Mi or 1G)`);
  const [, sign, number = "", suffix = ""] = match;
  const [whole = "", fraction = ""] = number.split(".");
  const mantissa = BigInt(`${whole}${fraction}` || "0");
  if (sign === "-" && mantissa !== 0n) throw new QuantityError(`${JSON.stringify(text)} is negative`);

  let numerator = mantissa * NANO;
  let denominator = 10n ** BigInt(fraction.length);
  const binary = BINARY_POWERS[suffix];
  if (binary !== undefined) {
    numerator *= 1n << binary;
  } else {
    const exponent = suffix === "" ? 0 : (DECIMAL_EXPONENTS[suffix] ?? Number(suffix.slice(1)));
    if (Math.abs(exponent) > MAX_EXPONENT) throw new QuantityError(`${JSON.stringify(text)} is out of range`);
    if (exponent >= 0) numerator *= 10n ** BigInt(exponent);
    else denominator *= 10n ** BigInt(-exponent);
  }
  return ceilDiv(numerator, denominator);
}

/** Whole CPUs needed for an amount of nano-CPUs (rounded up). */
export function nanosToCores(nanos: bigint): bigint {
  return ceilDiv(nanos, NANO);
}

/** Whole MiB needed for an amount of nano-bytes (rounded up). */
export function nanosToMebibytes(nanos: bigint): bigint {
  return ceilDiv(nanos, NANO << 20n);
}
