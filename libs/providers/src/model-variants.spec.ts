import { describe, expect, it } from 'vitest';
import { applyVariant, parseModelVariant, reasoningParams } from './model-variants';
import { toAnthropicRequest } from './anthropic/request';
import { toGeminiRequest } from './gemini/request';
import { toOpenAIChatRequest } from './openai/request';
import type { CanonicalRequest } from './canonical/request.types';

describe('parseModelVariant', () => {
  it.each([
    ['gpt-5-high', 'gpt-5', 'high', { effort: 'high' }],
    ['gpt-5-low', 'gpt-5', 'low', { effort: 'low' }],
    ['o4-mini-medium', 'o4-mini', 'medium', { effort: 'medium' }],
    ['gpt-5-minimal', 'gpt-5', 'minimal', { effort: 'minimal' }],
    ['claude-sonnet-4-thinking', 'claude-sonnet-4', 'thinking', { effort: 'medium' }],
    ['gemini-2.5-flash-nothinking', 'gemini-2.5-flash', 'nothinking', { effort: 'none' }],
    ['gemini-2.5-flash-thinking-128', 'gemini-2.5-flash', 'thinking-128', { budgetTokens: 128 }],
    ['gemini-2.5-flash-thinking-0', 'gemini-2.5-flash', 'thinking-0', { effort: 'none' }],
    ['gpt-4o-mini', 'gpt-4o-mini', null, null],
    ['-high', '-high', null, null],
  ])('%s → base %s, suffix %s', (model, base, suffix, reasoning) => {
    expect(parseModelVariant(model)).toEqual({ base, suffix, reasoning });
  });

  it('leaves a model id whole when the catalog knows it as is', () => {
    expect(parseModelVariant('o3-mini-high', (id) => id === 'o3-mini-high')).toEqual({ base: 'o3-mini-high', suffix: null, reasoning: null });
  });

  it('the variant wins over the body’s reasoning', () => {
    expect(applyVariant({ effort: 'low' }, parseModelVariant('m-high'))).toEqual({ effort: 'high' });
    expect(applyVariant({ effort: 'low' }, parseModelVariant('m'))).toEqual({ effort: 'low' });
  });
});

describe('variants map to each provider’s reasoning parameters', () => {
  const req = (model: string): CanonicalRequest => {
    const v = parseModelVariant(model);
    const r: CanonicalRequest = { model: v.base, messages: [], stream: false, includeUsage: false, maxOutputTokens: 1000 };
    const reasoning = applyVariant(undefined, v);
    if (reasoning) r.reasoning = reasoning;
    return r;
  };

  it.each([
    ['x-high', { reasoning_effort: 'high' }, { thinking: { type: 'enabled', budget_tokens: 24576 } }, { thinkingConfig: { thinkingBudget: 24576, includeThoughts: true } }],
    ['x-low', { reasoning_effort: 'low' }, { thinking: { type: 'enabled', budget_tokens: 1024 } }, { thinkingConfig: { thinkingBudget: 1024, includeThoughts: true } }],
    ['x-thinking-128', { reasoning_effort: 'low' }, { thinking: { type: 'enabled', budget_tokens: 1024 } }, { thinkingConfig: { thinkingBudget: 128, includeThoughts: true } }],
    ['x-thinking-20000', { reasoning_effort: 'high' }, { thinking: { type: 'enabled', budget_tokens: 20000 } }, { thinkingConfig: { thinkingBudget: 20000, includeThoughts: true } }],
    ['x-nothinking', {}, {}, { thinkingConfig: { thinkingBudget: 0 } }],
  ])('%s', (model, openai, anthropic, gemini) => {
    const r = req(model);
    const o = toOpenAIChatRequest(r, 'u');
    expect(o.reasoning_effort === undefined ? {} : { reasoning_effort: o.reasoning_effort }).toEqual(openai);
    expect(reasoningParams('openai', r.reasoning)).toEqual(openai);
    const a = toAnthropicRequest(r, 'u');
    expect(a.thinking === undefined ? {} : { thinking: a.thinking }).toEqual(anthropic);
    expect(reasoningParams('anthropic', r.reasoning)).toEqual(anthropic);
    if (a.thinking?.type === 'enabled') expect(a.max_tokens).toBeGreaterThan(a.thinking.budget_tokens);
    expect(toGeminiRequest(r).generationConfig).toEqual({ maxOutputTokens: 1000, ...gemini });
    expect(reasoningParams('gemini', r.reasoning)).toEqual(Object.keys(gemini).length ? { generationConfig: gemini } : {});
  });
});
