/**
 * Model variants: a suffix on the public model id asks for a reasoning
 * setting — `-low`, `-medium`, `-high` (effort), `-minimal`, `-thinking`
 * (on, provider default budget), `-nothinking` (off), `-thinking-<budget>`
 * (a token budget, Gemini/Anthropic style). The base id is what the catalog
 * maps to channels.
 */
import type { ReasoningConfig } from './canonical/request.types';
import { budgetOf, effortOf, EFFORT_BUDGET } from './canonical/reasoning';

export interface ModelVariant {
  /** The model id without the variant suffix. */
  base: string;
  /** The suffix found (`high`, `thinking`, `thinking-128`, …), or null. */
  suffix: string | null;
  reasoning: ReasoningConfig | null;
}

const EFFORT_SUFFIXES = ['minimal', 'low', 'medium', 'high'] as const;
const THINKING_BUDGET = /-thinking-(\d{1,7})$/;

/**
 * Splits a variant suffix off a model id. When `isKnown(model)` says the
 * full id is itself a model (`o3-mini-high` could be one), it is left whole.
 */
export function parseModelVariant(model: string, isKnown?: (id: string) => boolean): ModelVariant {
  if (isKnown?.(model)) return { base: model, suffix: null, reasoning: null };
  const m = THINKING_BUDGET.exec(model);
  if (m && m.index > 0) {
    const budget = Number(m[1]);
    return { base: model.slice(0, m.index), suffix: `thinking-${m[1]}`, reasoning: budget === 0 ? { effort: 'none' } : { budgetTokens: budget } };
  }
  if (model.endsWith('-nothinking') && model.length > 11) return { base: model.slice(0, -11), suffix: 'nothinking', reasoning: { effort: 'none' } };
  if (model.endsWith('-thinking') && model.length > 9) return { base: model.slice(0, -9), suffix: 'thinking', reasoning: { effort: 'medium' } };
  for (const e of EFFORT_SUFFIXES) {
    if (model.endsWith(`-${e}`) && model.length > e.length + 1) return { base: model.slice(0, -(e.length + 1)), suffix: e, reasoning: { effort: e } };
  }
  return { base: model, suffix: null, reasoning: null };
}

/** The variant's reasoning wins over what the request body asked for. */
export function applyVariant(requested: ReasoningConfig | undefined, variant: ModelVariant): ReasoningConfig | undefined {
  return variant.reasoning ?? requested;
}

export type ReasoningProvider = 'openai' | 'anthropic' | 'gemini';

/** The provider's own reasoning parameters for a reasoning config (what the request builders send). */
export function reasoningParams(provider: ReasoningProvider, r: ReasoningConfig | undefined): Record<string, unknown> {
  if (!r) return {};
  switch (provider) {
    case 'openai': {
      const e = effortOf(r);
      return e === undefined || e === 'none' ? {} : { reasoning_effort: e };
    }
    case 'anthropic': {
      const b = budgetOf(r);
      if (b === undefined) return {};
      return b === 0 ? {} : { thinking: { type: 'enabled', budget_tokens: Math.max(EFFORT_BUDGET.low, b) } };
    }
    case 'gemini': {
      const b = budgetOf(r);
      if (b === undefined) return {};
      return { generationConfig: { thinkingConfig: b === 0 ? { thinkingBudget: 0 } : { thinkingBudget: b, includeThoughts: true } } };
    }
  }
}
