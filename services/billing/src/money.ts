/**
 * Money crosses three representations: decimal USD strings (operators),
 * integer nano-USD bigint (arithmetic, Postgres BIGINT) and integer nano-USD
 * numbers (JSON contracts, bounded to the safe-integer range). These helpers
 * convert between them exactly; a float never touches money.
 */

/** Largest value of a Postgres BIGINT. */
export const INT8_MAX = 9_223_372_036_854_775_807n;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * Reads a BIGINT as the pg driver returns it (a decimal string) into a bigint.
 * Accepts bigint and safe integers too; anything else is a bug and throws.
 */
export function nanoFromDb(value: string | number | bigint): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new RangeError(`not an exact integer amount: ${value}`);
    return BigInt(value);
  }
  if (!/^-?\d+$/.test(value)) throw new RangeError(`not an integer amount: "${value}"`);
  return BigInt(value);
}

/** Converts to a JSON number for a contract; refuses what would lose precision. */
export function nanoToSafeNumber(value: bigint): number {
  if (value > MAX_SAFE || value < -MAX_SAFE) throw new RangeError(`amount ${value} exceeds the safe integer range`);
  return Number(value);
}

/** A token count or other BIGINT column that must fit a JSON number. */
export function countFromDb(value: string | number | bigint): number {
  return nanoToSafeNumber(nanoFromDb(value));
}
