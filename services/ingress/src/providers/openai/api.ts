import type { PlanCandidate } from '@switchyard/contracts';

export interface UpstreamHttpRequest {
  origin: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

/** Fields that steer Switchyard and must not reach the upstream. */
const GATEWAY_FIELDS = ['route'] as const;

const pathCache = new Map<string, { origin: string; basePath: string }>();

function splitBaseUrl(baseUrl: string): { origin: string; basePath: string } {
  let v = pathCache.get(baseUrl);
  if (!v) {
    const u = new URL(baseUrl);
    v = { origin: u.origin, basePath: u.pathname.replace(/\/+$/, '') };
    pathCache.set(baseUrl, v);
  }
  return v;
}

/**
 * The upstream Chat Completions request for an OpenAI-compatible channel:
 * the client's body with the channel's model id, and — for streams — usage
 * requested so the books do not depend on estimates.
 */
export function buildChatCompletionsRequest(
  candidate: PlanCandidate,
  body: Record<string, unknown>,
  apiKey: string | null,
): UpstreamHttpRequest {
  const { origin, basePath } = splitBaseUrl(candidate.base_url);
  const out: Record<string, unknown> = { ...body, model: candidate.upstream_model };
  for (const f of GATEWAY_FIELDS) delete out[f];
  if (body.stream === true) {
    const so = typeof body.stream_options === 'object' && body.stream_options !== null ? body.stream_options : {};
    out.stream_options = { ...so, include_usage: true };
  }
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: body.stream === true ? 'text/event-stream' : 'application/json',
  };
  if (apiKey) headers.authorization = `Bearer ${apiKey}`;
  return { origin, path: `${basePath}/chat/completions`, headers, body: JSON.stringify(out) };
}
