import type { PlanCandidate } from '@switchyard/contracts';
import type { Protocol } from '@switchyard/providers';
import type { UpstreamHttpRequest } from '../providers/openai/api';
import type { ChannelAccess } from '../upstream/credential.cache';
import { openAIEndpoint, setAuthHeader } from './upstream-auth';

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
 * Gemini's is the host (`/v1beta/models/…` is added) or ends in `/v1beta`;
 * Azure OpenAI's is the resource endpoint (see openAIEndpoint).
 */
export function buildUpstreamHttp(candidate: PlanCandidate, body: unknown, stream: boolean, access: ChannelAccess): UpstreamHttpRequest {
  const { origin, path } = split(candidate.base_url);
  const protocol = upstreamProtocolOf(candidate.provider);
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: stream ? 'text/event-stream' : 'application/json' };
  if (protocol === 'anthropic') {
    setAuthHeader(candidate.provider, access, headers);
    headers['anthropic-version'] = ANTHROPIC_VERSION;
    return { origin, path: `${path.endsWith('/v1') ? path : `${path}/v1`}/messages`, headers, body: JSON.stringify(body) };
  }
  if (protocol === 'gemini') {
    setAuthHeader(candidate.provider, access, headers);
    const base = path.endsWith('/v1beta') || path.endsWith('/v1') ? path : `${path}/v1beta`;
    const action = stream ? 'streamGenerateContent?alt=sse' : 'generateContent';
    return { origin, path: `${base}/models/${encodeURIComponent(candidate.upstream_model)}:${action}`, headers, body: JSON.stringify(body) };
  }
  setAuthHeader(candidate.provider, access, headers);
  const target = openAIEndpoint(candidate, access, 'chat/completions');
  return { origin: target.origin, path: target.path, headers, body: JSON.stringify(body) };
}
