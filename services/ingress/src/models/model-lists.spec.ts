import { describe, expect, it } from 'vitest';
import type { PlanIndex } from '../plan/plan.store';
import { anthropicModelList, geminiModelList } from './model-lists';

const IDS = ['a', 'b', 'c', 'd', 'e'];
const PLAN = { createdSec: 1_700_000_000 } as PlanIndex;

describe('anthropicModelList', () => {
  it('pages with limit and after_id / before_id, in the Anthropic list shape', () => {
    const first = anthropicModelList(IDS, PLAN, { limit: '2' });
    expect(first).toEqual({
      data: [
        { type: 'model', id: 'a', display_name: 'a', created_at: '2023-11-14T22:13:20.000Z' },
        { type: 'model', id: 'b', display_name: 'b', created_at: '2023-11-14T22:13:20.000Z' },
      ],
      has_more: true,
      first_id: 'a',
      last_id: 'b',
    });
    const next = anthropicModelList(IDS, PLAN, { limit: '2', after_id: 'd' });
    expect(next.data.map((m) => m.id)).toEqual(['e']);
    expect(next.has_more).toBe(false);
    const before = anthropicModelList(IDS, PLAN, { limit: '2', before_id: 'd' });
    expect(before.data.map((m) => m.id)).toEqual(['b', 'c']);
    expect(before.has_more).toBe(true);
    expect(anthropicModelList([], PLAN, {})).toEqual({ data: [], has_more: false, first_id: null, last_id: null });
  });

  it('rejects a limit that is not a positive integer', () => {
    expect(() => anthropicModelList(IDS, PLAN, { limit: '0' })).toThrow(/limit/);
    expect(() => anthropicModelList(IDS, PLAN, { limit: 'x' })).toThrow(/limit/);
  });
});

describe('geminiModelList', () => {
  it('names models/<id> with both generation methods, paged by pageSize and pageToken', () => {
    const first = geminiModelList(IDS, { pageSize: '3' });
    expect(first.models.map((m) => m.name)).toEqual(['models/a', 'models/b', 'models/c']);
    expect(first.models[0]).toMatchObject({ displayName: 'a', supportedGenerationMethods: ['generateContent', 'streamGenerateContent'] });
    expect(first.nextPageToken).toBe('c');
    const rest = geminiModelList(IDS, { pageSize: '3', pageToken: first.nextPageToken });
    expect(rest.models.map((m) => m.name)).toEqual(['models/d', 'models/e']);
    expect(rest.nextPageToken).toBeUndefined();
  });
});
