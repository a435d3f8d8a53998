import { describe, expect, it } from 'vitest';
import { classifyStatus, classifyUpstreamError, cooldownMsFor, countsAgainstChannel, parseRetryAfter, routingActionFor } from './error-classification';

const NOW = Date.parse('2026-01-01T00:00:00Z');
const cls = (f: Parameters<typeof classifyUpstreamError>[0]) => classifyUpstreamError(f, NOW).error_class;

describe('classifyUpstreamError: provider error shapes', () => {
  it.each([
    // OpenAI
    ['openai insufficient_quota (sent with 429)', 429, { error: { message: 'You exceeded your current quota, please check your plan and billing details.', type: 'insufficient_quota', param: null, code: 'insufficient_quota' } }, 'quota'],
    ['openai rate limit', 429, { error: { message: 'Rate limit reached for gpt-4o in organization org-x on requests per min (RPM)', type: 'requests', code: 'rate_limit_exceeded' } }, 'rate_limit'],
    ['openai invalid key', 401, { error: { message: 'Incorrect API key provided: sk-****', type: 'invalid_request_error', code: 'invalid_api_key' } }, 'auth'],
    ['openai context too long', 400, { error: { message: "This model's maximum context length is 128000 tokens.", type: 'invalid_request_error', code: 'context_length_exceeded' } }, 'permanent'],
    ['openai server error', 500, { error: { message: 'The server had an error while processing your request.', type: 'server_error', code: null } }, 'transient'],
    ['openai model not found', 404, { error: { message: 'The model `gpt-9` does not exist', type: 'invalid_request_error', code: 'model_not_found' } }, 'permanent'],
    // Anthropic
    ['anthropic overloaded (529)', 529, { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }, 'transient'],
    ['anthropic rate limit', 429, { type: 'error', error: { type: 'rate_limit_error', message: 'Number of request tokens has exceeded your per-minute rate limit' } }, 'rate_limit'],
    ['anthropic auth', 401, { type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' } }, 'auth'],
    ['anthropic permission', 403, { type: 'error', error: { type: 'permission_error', message: 'Your API key does not have permission' } }, 'auth'],
    ['anthropic billing', 400, { type: 'error', error: { type: 'invalid_request_error', message: 'Your credit balance is too low to access the Anthropic API.' } }, 'quota'],
    ['anthropic prompt too long', 400, { type: 'error', error: { type: 'invalid_request_error', message: 'prompt is too long: 210000 tokens > 200000 maximum' } }, 'permanent'],
    ['anthropic api_error', 500, { type: 'error', error: { type: 'api_error', message: 'Internal server error' } }, 'transient'],
    // Gemini
    ['gemini per-minute quota', 429, { error: { code: 429, message: 'Quota exceeded for quota metric GenerateContent requests per minute', status: 'RESOURCE_EXHAUSTED' } }, 'rate_limit'],
    ['gemini billing exhausted', 429, { error: { code: 429, message: 'You exceeded your current quota, please check your plan and billing details.', status: 'RESOURCE_EXHAUSTED' } }, 'quota'],
    ['gemini permission denied', 403, { error: { code: 403, message: 'Permission denied on resource project', status: 'PERMISSION_DENIED' } }, 'auth'],
    ['gemini bad key (400 INVALID_ARGUMENT)', 400, { error: { code: 400, message: 'API key not valid. Please pass a valid API key.', status: 'INVALID_ARGUMENT', details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID' }] } }, 'auth'],
    ['gemini unavailable', 503, { error: { code: 503, message: 'The model is overloaded.', status: 'UNAVAILABLE' } }, 'transient'],
    ['gemini array-wrapped', 400, [{ error: { code: 400, message: 'Invalid JSON payload', status: 'INVALID_ARGUMENT' } }], 'permanent'],
    // Azure OpenAI
    ['azure content filter', 400, { error: { code: 'content_filter', message: 'The response was filtered' } }, 'permanent'],
    ['azure deployment missing', 404, { error: { code: 'DeploymentNotFound', message: 'The API deployment for this resource does not exist.' } }, 'permanent'],
  ] as const)('%s', (_name, status, body, expected) => {
    expect(cls({ status, body })).toBe(expected);
  });

  it('reads a JSON body given as text', () => {
    expect(cls({ status: 429, body: '{"error":{"type":"insufficient_quota","code":"insufficient_quota","message":"x"}}' })).toBe('quota');
  });

  it('falls back to message keywords when there is no recognised code', () => {
    expect(cls({ status: 500, body: 'upstream connect error or disconnect/reset before headers' })).toBe('transient');
    expect(cls({ status: 400, body: { message: 'too many tokens in prompt' } })).toBe('permanent');
    expect(cls({ status: 403, body: 'Too Many Requests' })).toBe('rate_limit');
  });

  it('does not let a generic invalid_request_error override a 429 or 5xx status', () => {
    expect(cls({ status: 429, body: { error: { type: 'invalid_request_error', message: 'slow down' } } })).toBe('rate_limit');
    expect(cls({ status: 503, body: { error: { type: 'invalid_request_error', message: 'x' } } })).toBe('transient');
  });

  it('says which signal decided, without echoing the body', () => {
    const c = classifyUpstreamError({ status: 401, body: { error: { code: 'invalid_api_key', message: 'Incorrect API key provided: sk-secret' } } }, NOW);
    expect(c.reason).toBe('code invalid_api_key');
    expect(c.reason).not.toContain('sk-');
  });
});

describe('classifyUpstreamError: statuses and transport', () => {
  it.each([
    [400, 'permanent'],
    [401, 'auth'],
    [402, 'quota'],
    [403, 'auth'],
    [404, 'permanent'],
    [408, 'timeout'],
    [409, 'transient'],
    [413, 'permanent'],
    [422, 'permanent'],
    [429, 'rate_limit'],
    [500, 'transient'],
    [502, 'transient'],
    [503, 'transient'],
    [504, 'transient'],
    [529, 'transient'],
    [302, 'unknown'],
  ] as const)('status %i → %s', (status, expected) => {
    expect(classifyStatus(status)).toBe(expected);
    expect(cls({ status, body: '' })).toBe(expected);
  });

  it.each([
    [{ transport: 'connect' as const }, 'connect'],
    [{ transport: 'reset' as const }, 'transient'],
    [{ transport: 'timeout' as const }, 'timeout'],
    [{ transport: 'abort' as const }, 'client_abort'],
    [{ transport: 'stream_broken' as const }, 'mid_stream'],
    [{ code: 'ECONNREFUSED' }, 'connect'],
    [{ code: 'ENOTFOUND' }, 'connect'],
    [{ code: 'ECONNRESET' }, 'transient'],
    [{ code: 'UND_ERR_HEADERS_TIMEOUT' }, 'timeout'],
    [{ code: 'UND_ERR_CONNECT_TIMEOUT' }, 'connect'],
    [{}, 'connect'],
    [{ status: 0 }, 'connect'],
  ])('%o → %s', (f, expected) => expect(cls(f)).toBe(expected));
});

describe('parseRetryAfter', () => {
  it('reads delay-seconds', () => {
    expect(parseRetryAfter('120', NOW)).toBe(120_000);
    expect(parseRetryAfter(' 1.5 ', NOW)).toBe(1_500);
    expect(parseRetryAfter('0', NOW)).toBe(0);
  });
  it('reads an HTTP-date relative to now; past dates give 0', () => {
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', NOW)).toBe(30_000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:00:00 GMT', NOW)).toBe(0);
  });
  it('reads milliseconds when told', () => expect(parseRetryAfter('250', NOW, 'ms')).toBe(250));
  it('rejects garbage and negatives', () => {
    for (const v of [undefined, null, '', 'soon', '-5', '5m', '1e3']) expect(parseRetryAfter(v, NOW)).toBeNull();
  });
  it('is picked up from the response headers, whatever their case', () => {
    expect(classifyUpstreamError({ status: 429, headers: { 'Retry-After': '7' } }, NOW).retry_after_ms).toBe(7_000);
    expect(classifyUpstreamError({ status: 429, headers: { 'retry-after': ['3', '9'] } }, NOW).retry_after_ms).toBe(3_000);
  });
});

describe('what each class means for routing', () => {
  it('moves a 429 to the next channel at once, with a cooldown from Retry-After', () => {
    const c = classifyUpstreamError({ status: 429, headers: { 'retry-after': '30' } }, NOW);
    expect(routingActionFor(c.error_class)).toMatchObject({ next_channel: true, backoff: false, cooldown: true });
    expect(cooldownMsFor(c)).toBe(30_000);
  });
  it('uses the default cooldown for a 429 without Retry-After and bounds absurd values', () => {
    expect(cooldownMsFor(classifyUpstreamError({ status: 429 }, NOW))).toBe(10_000);
    expect(cooldownMsFor(classifyUpstreamError({ status: 429 }, NOW), { defaultRateLimitCooldownMs: 2_000 })).toBe(2_000);
    expect(cooldownMsFor(classifyUpstreamError({ status: 429, headers: { 'retry-after': '86400' } }, NOW))).toBe(600_000);
  });
  it('honours Retry-After on a 503 too, and gives no cooldown to a plain 500', () => {
    expect(cooldownMsFor(classifyUpstreamError({ status: 503, headers: { 'retry-after': '5' } }, NOW))).toBe(5_000);
    expect(cooldownMsFor(classifyUpstreamError({ status: 500 }, NOW))).toBeNull();
  });
  it('backs off before retrying a transient error on the next channel', () => {
    expect(routingActionFor('transient')).toMatchObject({ next_channel: true, backoff: true, return_to_client: false });
  });
  it('disables the channel on auth and quota errors and moves on', () => {
    for (const k of ['auth', 'quota'] as const) expect(routingActionFor(k)).toMatchObject({ next_channel: true, disable_channel: true });
  });
  it('returns permanent client errors at once and does not count them against the channel', () => {
    expect(routingActionFor('permanent')).toMatchObject({ next_channel: false, return_to_client: true });
    expect(countsAgainstChannel('permanent')).toBe(false);
    expect(countsAgainstChannel('client_abort')).toBe(false);
    expect(countsAgainstChannel('cancelled')).toBe(false);
    expect(countsAgainstChannel('timeout')).toBe(true);
  });
});
