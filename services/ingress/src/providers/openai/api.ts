import type { PlanCandidate } from '@switchyard/contracts';
import { openAIEndpoint, setAuthHeader } from '../../protocol/upstream-auth';
import type { ChannelAccess } from '../../upstream/credential.cache';

export interface UpstreamHttpRequest {
  origin: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

/** Fields that steer Switchyard and must not reach the upstream. */
const GATEWAY_FIELDS = ['route'] as const;

/**
 * The upstream Chat Completions request for an OpenAI-wire channel (OpenAI,
 * Azure OpenAI, compatible hosts):
 * the client's body with the channel's model id, and — for streams — usage
 * requested so the books do not depend on estimates.
 */
export function buildChatCompletionsRequest(
  candidate: PlanCandidate,
  body: Record<string, unknown>,
  access: ChannelAccess,
): UpstreamHttpRequest {
  const { origin, path } = openAIEndpoint(candidate, access, 'chat/completions');
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
  setAuthHeader(candidate.provider, access, headers);
  return { origin, path, headers, body: JSON.stringify(out) };
}
