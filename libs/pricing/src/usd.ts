/** Nano-USD per USD. */
export const NANO_PER_USD = 1_000_000_000n;

const DECIMAL_USD = /^(\d{1,12})(?:\.(\d{1,9}))?$/;

/**
 * Converts a decimal USD string ("0.15", "100.00") to integer nano-USD,
 * exactly: no float ever touches money. More than 9 decimals would need a
 * fraction of a nano-USD and is refused, as are negatives and exponents.
 */
export function usdToNano(usd: string): bigint {
  const m = DECIMAL_USD.exec(usd.trim());
  if (!m) throw new RangeError(`not a non-negative USD amount with at most 9 decimals: "${usd}"`);
  const whole = BigInt(m[1]!);
  const frac = BigInt((m[2] ?? '').padEnd(9, '0'));
  return whole * NANO_PER_USD + frac;
}

/** Formats integer nano-USD as a decimal USD string with all 9 decimals trimmed of trailing zeros (min 2). */
export function nanoToUsd(nano: bigint | number): string {
  const n = BigInt(nano);
  const sign = n < 0n ? '-' : '';
  const abs = n < 0n ? -n : n;
  const whole = abs / NANO_PER_USD;
  let frac = (abs % NANO_PER_USD).toString().padStart(9, '0').replace(/0+$/, '');
  if (frac.length < 2) frac = frac.padEnd(2, '0');
  return `${sign}${whole}.${frac}`;
}
