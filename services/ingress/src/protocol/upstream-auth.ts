import type { PlanCandidate } from '@switchyard/contracts';
import type { ChannelAccess } from '../upstream/credential.cache';

/** A static key (or none) as channel access: what channels without settings or OAuth use. */
export function keyAccess(key: string | null, apiVersion?: string): ChannelAccess {
  return { token: key, scheme: 'key', apiVersion };
}

/**
 * Puts the credential where the channel's provider expects it: an OAuth
 * access token always as `Authorization: Bearer`; a static key as
 * `api-key` (Azure OpenAI), `x-api-key` (Anthropic), `x-goog-api-key`
 * (Gemini) or `Authorization: Bearer` (OpenAI and compatible hosts).
 */
export function setAuthHeader(provider: PlanCandidate['provider'], access: ChannelAccess, headers: Record<string, string>): void {
  if (access.token === null) return;
  if (access.scheme === 'bearer') {
    headers.authorization = `Bearer ${access.token}`;
    return;
  }
  switch (provider) {
    case 'azure-openai':
      headers['api-key'] = access.token;
      return;
    case 'anthropic':
      headers['x-api-key'] = access.token;
      return;
    case 'gemini':
      headers['x-goog-api-key'] = access.token;
      return;
    default:
      headers.authorization = `Bearer ${access.token}`;
  }
}

const split = new Map<string, { origin: string; basePath: string }>();

function splitBaseUrl(baseUrl: string): { origin: string; basePath: string } {
  let v = split.get(baseUrl);
  if (!v) {
    const u = new URL(baseUrl);
    v = { origin: u.origin, basePath: u.pathname.replace(/\/+$/, '') };
    split.set(baseUrl, v);
  }
  return v;
}

/**
 * Origin and path of an OpenAI-wire endpoint (`chat/completions`,
 * `completions`, `embeddings`) on a channel. OpenAI and compatible hosts:
 * `{base_url}/{endpoint}` (the base ends in `/v1`). Azure OpenAI:
 * `{base_url}/openai/deployments/{deployment}/{endpoint}?api-version={v}`,
 * the deployment being the channel model's upstream id and the base the
 * resource endpoint (`https://NAME.openai.azure.com`; a trailing `/openai`
 * is accepted too).
 */
export function openAIEndpoint(candidate: PlanCandidate, access: ChannelAccess, endpoint: 'chat/completions' | 'completions' | 'embeddings'): { origin: string; path: string } {
  const { origin, basePath } = splitBaseUrl(candidate.base_url);
  if (candidate.provider !== 'azure-openai') return { origin, path: `${basePath}/${endpoint}` };
  const root = basePath.endsWith('/openai') ? basePath : `${basePath}/openai`;
  const query = access.apiVersion ? `?api-version=${encodeURIComponent(access.apiVersion)}` : '';
  return { origin, path: `${root}/deployments/${encodeURIComponent(candidate.upstream_model)}/${endpoint}${query}` };
}
