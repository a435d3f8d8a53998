import type { FastifyReply, FastifyRequest } from 'fastify';
import type { KeyCache } from '../auth/key-cache';
import { authenticate } from '../auth/authenticate';
import { GatewayError } from '../errors/gateway-error';
import type { PlanIndex, PlanStore } from '../plan/plan.store';

/** Anthropic's model object. */
export interface AnthropicModel {
  type: 'model';
  id: string;
  display_name: string;
  created_at: string;
}

/** Gemini's model object (the fields SDKs read). */
export interface GeminiModel {
  name: string;
  baseModelId: string;
  version: string;
  displayName: string;
  description: string;
  supportedGenerationMethods: string[];
}

export function anthropicModel(id: string, plan: PlanIndex): AnthropicModel {
  return { type: 'model', id, display_name: id, created_at: new Date(plan.createdSec * 1000).toISOString() };
}

export function geminiModel(id: string): GeminiModel {
  return {
    name: `models/${id}`,
    baseModelId: id,
    version: '1',
    displayName: id,
    description: `${id}, served by Switchyard`,
    supportedGenerationMethods: ['generateContent', 'streamGenerateContent'],
  };
}

function intParam(v: unknown, name: string, def: number, max: number): number {
  if (v === undefined || v === '') return def;
  const n = typeof v === 'string' ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < 1) throw new GatewayError('invalid_request', { message: `${name}: expected a positive integer.`, param: name, code: 'invalid_value' });
  return Math.min(n, max);
}

/**
 * Anthropic `GET /v1/models`: `{data, has_more, first_id, last_id}`, paged
 * with `limit` (default 20, max 1000) and `after_id` / `before_id`.
 */
export function anthropicModelList(ids: readonly string[], plan: PlanIndex, query: Record<string, unknown>) {
  const limit = intParam(query.limit, 'limit', 20, 1000);
  let start = 0;
  let end = ids.length;
  if (typeof query.after_id === 'string') start = ids.indexOf(query.after_id) + 1;
  else if (typeof query.before_id === 'string') {
    const at = ids.indexOf(query.before_id);
    end = at === -1 ? 0 : at;
    start = Math.max(0, end - limit);
  }
  const page = ids.slice(start, Math.min(end, start + limit));
  const hasMore = typeof query.before_id === 'string' ? start > 0 : start + page.length < end;
  return { data: page.map((id) => anthropicModel(id, plan)), has_more: hasMore, first_id: page[0] ?? null, last_id: page.at(-1) ?? null };
}

/** Gemini `GET /v1beta/models`: `{models, nextPageToken?}`, paged with `pageSize` (default 50, max 1000) and `pageToken`. */
export function geminiModelList(ids: readonly string[], query: Record<string, unknown>) {
  const size = intParam(query.pageSize, 'pageSize', 50, 1000);
  const start = typeof query.pageToken === 'string' && query.pageToken ? ids.indexOf(query.pageToken) + 1 : 0;
  const page = ids.slice(start, start + size);
  const out: { models: GeminiModel[]; nextPageToken?: string } = { models: page.map(geminiModel) };
  if (start + page.length < ids.length && page.length > 0) out.nextPageToken = page.at(-1)!;
  return out;
}

/**
 * Model lists in the Anthropic and Gemini shapes: the current plan's public
 * models that the caller's key may use (the OpenAI list lives in the routes).
 */
export class ModelListsHandler {
  constructor(
    private readonly keys: KeyCache,
    private readonly plans: PlanStore,
  ) {}

  private async visible(req: FastifyRequest): Promise<{ ids: string[]; plan: PlanIndex | undefined }> {
    const key = await authenticate(this.keys, req);
    const plan = this.plans.current;
    return { ids: plan ? plan.modelIds.filter((id) => key.allowsModel(id)) : [], plan };
  }

  async anthropicList(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const { ids, plan } = await this.visible(req);
    const query = (req.query ?? {}) as Record<string, unknown>;
    reply.send(plan ? anthropicModelList(ids, plan, query) : { data: [], has_more: false, first_id: null, last_id: null });
  }

  async anthropicGet(req: FastifyRequest, reply: FastifyReply, id: string): Promise<void> {
    const { ids, plan } = await this.visible(req);
    if (!plan || !ids.includes(id)) throw new GatewayError('model_not_found', { message: `model: ${id}`, param: 'model' });
    reply.send(anthropicModel(id, plan));
  }

  async geminiList(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const { ids } = await this.visible(req);
    reply.send(geminiModelList(ids, (req.query ?? {}) as Record<string, unknown>));
  }

  async geminiGet(req: FastifyRequest, reply: FastifyReply, id: string): Promise<void> {
    const { ids } = await this.visible(req);
    if (!ids.includes(id)) throw new GatewayError('model_not_found', { message: `models/${id} is not found.`, param: 'model' });
    reply.send(geminiModel(id));
  }
}
