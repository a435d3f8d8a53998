/** Prices per 1M tokens in integer nano-USD. */
export interface TokenPrices {
  input_nano_per_mtok: number;
  output_nano_per_mtok: number;
  cached_input_nano_per_mtok: number;
  /** Rate of cache-write input tokens; absent: the input rate. */
  cache_write_nano_per_mtok?: number;
}

export interface BillableTokens {
  input_tokens: number;
  output_tokens: number;
  /** Part of input_tokens served from the provider's prompt cache, priced at the cached rate. */
  cached_input_tokens: number;
  /** Part of input_tokens written to the prompt cache (disjoint from cached), priced at the cache-write rate. */
  cache_write_input_tokens?: number;
}

const MTOK = 1_000_000n;

/**
 * Cost of one request in integer nano-USD: tokens × price-per-million / 1M,
 * summed exactly in BigInt and rounded half-up once at the end, so summing
 * per-token-class roundings can never drift from the ledger.
 */
export function costNano(tokens: BillableTokens, prices: TokenPrices): number {
  const cached = Math.min(tokens.cached_input_tokens, tokens.input_tokens);
  const cacheWrite = Math.min(tokens.cache_write_input_tokens ?? 0, tokens.input_tokens - cached);
  const uncached = tokens.input_tokens - cached - cacheWrite;
  const scaled =
    BigInt(uncached) * BigInt(prices.input_nano_per_mtok) +
    BigInt(cacheWrite) * BigInt(prices.cache_write_nano_per_mtok ?? prices.input_nano_per_mtok) +
    BigInt(cached) * BigInt(prices.cached_input_nano_per_mtok) +
    BigInt(tokens.output_tokens) * BigInt(prices.output_nano_per_mtok);
  const cost = (scaled + MTOK / 2n) / MTOK;
  if (cost > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError('cost exceeds the safe integer range');
  return Number(cost);
}
