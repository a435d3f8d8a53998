import type { ReasoningConfig } from './request.types';

/** Effort → thinking budget, for providers that take a budget. */
export const EFFORT_BUDGET: Readonly<Record<'minimal' | 'low' | 'medium' | 'high', number>> = {
  minimal: 1024,
  low: 1024,
  medium: 8192,
  high: 24576,
};

/** Budget → effort, for providers that take an effort. */
export function effortOfBudget(budget: number): 'low' | 'medium' | 'high' {
  if (budget <= 2048) return 'low';
  if (budget <= 12288) return 'medium';
  return 'high';
}

/** The thinking budget a reasoning config asks for; 0 when thinking is off, undefined when unspecified. */
export function budgetOf(r: ReasoningConfig | undefined): number | undefined {
  if (!r) return undefined;
  if (r.effort === 'none') return 0;
  if (r.budgetTokens !== undefined) return r.budgetTokens;
  if (r.effort !== undefined) return EFFORT_BUDGET[r.effort];
  return undefined;
}

/** The effort a reasoning config asks for; 'none' when thinking is off, undefined when unspecified. */
export function effortOf(r: ReasoningConfig | undefined): ReasoningConfig['effort'] {
  if (!r) return undefined;
  if (r.effort !== undefined) return r.effort;
  if (r.budgetTokens !== undefined) return r.budgetTokens === 0 ? 'none' : effortOfBudget(r.budgetTokens);
  return undefined;
}
