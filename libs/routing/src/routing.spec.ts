import { describe, expect, it } from 'vitest';
import type { CatalogChannel } from '@switchyard/contracts';
import { buildPriorityPlan, compileModelAccess, samePlanRouting } from './index';

const price = { input_nano_per_mtok: 1, output_nano_per_mtok: 2, cached_input_nano_per_mtok: 0 };
const channel = (id: string, priority: number, weight = 1, enabled = true, models = ['m']): CatalogChannel => ({
  id,
  provider: 'openai',
  base_url: `http://127.0.0.1:1/${id}`,
  priority,
  weight,
  enabled,
  models: models.map((model) => ({ model, upstream_model: `${model}-up`, price })),
});

describe('buildPriorityPlan', () => {
  it('orders candidates by priority, then weight, then id', () => {
    const plan = buildPriorityPlan([channel('c', 2), channel('b', 1, 1), channel('a', 1, 5)], 7, new Date(0));
    expect(plan.models['m']!.candidates.map((c) => c.channel_id)).toEqual(['a', 'b', 'c']);
    expect(plan.version).toBe(7);
  });

  it('leaves disabled channels out and maps the upstream model id', () => {
    const plan = buildPriorityPlan([channel('a', 1, 1, false), channel('b', 1)], 1, new Date(0));
    expect(plan.models['m']!.candidates).toEqual([expect.objectContaining({ channel_id: 'b', upstream_model: 'm-up' })]);
  });

  it('lists each public model once with all its channels', () => {
    const plan = buildPriorityPlan([channel('a', 1, 1, true, ['x', 'y']), channel('b', 1, 1, true, ['y'])], 1, new Date(0));
    expect(Object.keys(plan.models).sort()).toEqual(['x', 'y']);
    expect(plan.models['y']!.candidates).toHaveLength(2);
  });

  it('recognises an unchanged routing so it is not pushed again', () => {
    const a = buildPriorityPlan([channel('a', 1)], 1, new Date(0));
    const b = buildPriorityPlan([channel('a', 1)], 2, new Date(1000));
    expect(samePlanRouting(a, b)).toBe(true);
    expect(samePlanRouting(a, buildPriorityPlan([channel('a', 2)], 3, new Date(0)))).toBe(false);
  });
});

describe('compileModelAccess', () => {
  it('allows everything with *', () => expect(compileModelAccess(['*'])('anything')).toBe(true));
  it('matches exact ids and globs only', () => {
    const allowed = compileModelAccess(['gpt-4o*', 'claude-3.5-sonnet']);
    expect(allowed('gpt-4o-mini')).toBe(true);
    expect(allowed('claude-3.5-sonnet')).toBe(true);
    expect(allowed('claude-3x5-sonnet')).toBe(false);
    expect(allowed('o1')).toBe(false);
  });
  it('allows nothing with an empty list', () => expect(compileModelAccess([])('m')).toBe(false));
});
