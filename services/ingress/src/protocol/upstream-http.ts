import type { PlanCandidate } from '@switchyard/contracts';
import type { Protocol } from '@switchyard/providers';
import type { UpstreamHttpRequest } from '../providers/openai/api';

/** The wire protocol a channel speaks. */
export function upstreamProtocolOf(provider: PlanCandidate['provider']): Protocol {
  return provider === 'anthropic' ? 'anthropic' : provider === 'gemini' ? 'gemini' : 'openai';
}

const ANTHROPIC_VERSION = '2023-06-01';

function split(baseUrl: string): { origin: string; path: string } {
  const u = new URL(baseUrl);
  return { origin: u.origin, path: u.pathname.replace(/\/+$/, '') };
}

/**
 * URL and headers for a translated request to a channel. Base URLs follow
 * each provider's convention: an OpenAI-compatible base ends in `/v1`;
 * Anthropic's is the host (`/v1/messages` is added) or ends in `/v1`;
 * Gemini's is the host (`/v1beta/models/…` is added) or ends in `/v1beta`.
 */
export function buildUpstreamHttp(candidate: PlanCandidate, body: unknown, stream: boolean, apiKey: string | null): UpstreamHttpRequest {
  const { origin, path } = split(candidate.base_url);
  const protocol = upstreamProtocolOf(candidate.provider);
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: stream ? 'text/event-stream' : 'application/json' };
  if (protocol === 'anthropic') {
    if (apiKey) headers['x-api-key'] = apiKey;
    headers['anthropic-version'] = ANTHROPIC_VERSION;
    return { origin, path: `${path.endsWith('/v1') ? path : `${path}/v1`}/messages`, headers, body: JSON.stringify(body) };
  }
  if (protocol === 'gemini') {
    if (apiKey) headers['x-goog-api-key'] = apiKey;
    const base = path.endsWith('/v1beta') || path.endsWith('/v1') ? path : `${path}/v1beta`;
    const action = stream ? 'streamGenerateContent?alt=sse' : 'generateContent';
    return { origin, path: `${base}/models/${encodeURIComponent(candidate.upstream_model)}:${action}`, headers, body: JSON.stringify(body) };
  }
  if (apiKey) headers.authorization = `Bearer ${apiKey}`;
  return { origin, path: `${path}/chat/completions`, headers, body: JSON.stringify(body) };
}
