import { describe, expect, it } from 'vitest';
import type { PlanCandidate } from '@switchyard/contracts';
import { applyModelVariant, resolveModel, variantOfAllowedModel } from './model-variant.resolution';
import { canonicalOf, readChatRequest, readTranslatedRequest } from './chat-request.validation';

const c = (id: string): PlanCandidate => ({
  channel_id: id,
  provider: 'openai',
  base_url: 'http://127.0.0.1:1/v1',
  upstream_model: id,
  priority: 1,
  weight: 1,
  price: { input_nano_per_mtok: 1, output_nano_per_mtok: 1, cached_input_nano_per_mtok: 1 },
});

const models = new Map<string, readonly PlanCandidate[]>([
  ['o4-mini', [c('a')]],
  ['o3-mini-high', [c('real')]],
  ['claude-sonnet', [c('b')]],
]);

describe('resolveModel', () => {
  it('uses an id in the catalog as is, even when it looks like a variant', () => {
    expect(resolveModel(models, 'o3-mini-high')).toMatchObject({ model: 'o3-mini-high', variant: null });
    expect(resolveModel(models, 'o4-mini')).toMatchObject({ model: 'o4-mini', variant: null });
  });

  it('routes a variant by its base model', () => {
    expect(resolveModel(models, 'o4-mini-high')).toMatchObject({ model: 'o4-mini', candidates: [{ channel_id: 'a' }], variant: { suffix: 'high', reasoning: { effort: 'high' } } });
    expect(resolveModel(models, 'claude-sonnet-thinking-4096')).toMatchObject({ model: 'claude-sonnet', variant: { reasoning: { budgetTokens: 4096 } } });
  });

  it('is null for unknown models and for variants of unknown bases', () => {
    expect(resolveModel(models, 'gpt-9')).toBeNull();
    expect(resolveModel(models, 'gpt-9-high')).toBeNull();
  });
});

describe('applyModelVariant', () => {
  it('an OpenAI body gets reasoning_effort (replacing the client’s), routes by the base, keeps the requested id', () => {
    const view = readChatRequest({ model: 'o4-mini-low', reasoning_effort: 'high', messages: [{ role: 'user', content: 'hi' }] });
    applyModelVariant(view, resolveModel(models, 'o4-mini-low')!);
    expect(view.model).toBe('o4-mini');
    expect(view.requestedModel).toBe('o4-mini-low');
    expect(view.body.reasoning_effort).toBe('low');
    // Translated later: the canonical request carries the variant's exact reasoning.
    expect(canonicalOf(view).reasoning).toEqual({ effort: 'low' });
  });

  it('-nothinking drops reasoning_effort; a budget variant keeps its budget for budget-taking providers', () => {
    const off = readChatRequest({ model: 'o4-mini-nothinking', reasoning_effort: 'high', messages: [{ role: 'user', content: 'hi' }] });
    applyModelVariant(off, resolveModel(models, 'o4-mini-nothinking')!);
    expect(off.body).not.toHaveProperty('reasoning_effort');
    const budget = readChatRequest({ model: 'o4-mini-thinking-2048', messages: [{ role: 'user', content: 'hi' }] });
    applyModelVariant(budget, resolveModel(models, 'o4-mini-thinking-2048')!);
    expect(budget.body.reasoning_effort).toBe('low');
    expect(canonicalOf(budget).reasoning).toEqual({ budgetTokens: 2048 });
  });

  it('an already parsed Anthropic request gets the reasoning on its canonical form', () => {
    const view = readTranslatedRequest('anthropic', { model: 'claude-sonnet-high', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] }, {});
    applyModelVariant(view, resolveModel(models, 'claude-sonnet-high')!);
    expect(view.model).toBe('claude-sonnet');
    expect(view.canonical!.reasoning).toEqual({ effort: 'high' });
  });
});

describe('variantOfAllowedModel', () => {
  const key = { allowsModel: (m: string) => m === 'o4-mini' || m === 'o3-mini' };
  it('lets a key allowed the base use its variants, but not a distinct catalog model that looks like one', () => {
    expect(variantOfAllowedModel(key, models, 'o4-mini-high')).toBe(true);
    expect(variantOfAllowedModel(key, models, 'o3-mini-high')).toBe(false); // a real model of its own
    expect(variantOfAllowedModel(key, models, 'claude-sonnet-high')).toBe(false);
    expect(variantOfAllowedModel(key, undefined, 'o4-mini-high')).toBe(false);
  });
});
