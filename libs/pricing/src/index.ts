export { usdToNano, nanoToUsd, NANO_PER_USD } from './usd';
export { costNano } from './cost';
export type { TokenPrices, BillableTokens } from './cost';
