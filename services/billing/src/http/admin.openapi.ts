/**
 * The admin API's OpenAPI 3 document, written by hand next to the controller
 * (no zod-to-OpenAPI library is installed). The integration test checks that
 * every route the controller serves is listed here.
 */
type Schema = Record<string, unknown>;

const str = (description?: string): Schema => ({ type: 'string', ...(description ? { description } : {}) });
const usd = (description: string): Schema => ({ type: 'string', pattern: '^\\d{1,12}(\\.\\d{1,9})?$', description: `${description} (decimal USD string, at most 9 decimals)` });
const int = (description?: string): Schema => ({ type: 'integer', ...(description ? { description } : {}) });
const nullable = (s: Schema): Schema => ({ ...s, nullable: true });
const obj = (properties: Record<string, Schema>, required: string[] = []): Schema => ({ type: 'object', properties, required, additionalProperties: false });
const idParam = (name: string, description: string) => ({ name, in: 'path', required: true, schema: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' }, description });
const query = (name: string, description: string, schema: Schema = { type: 'string' }) => ({ name, in: 'query', required: false, schema, description });

const errorRef = { $ref: '#/components/schemas/Error' };
const errors = {
  '400': { description: 'Bad input; nothing was written', content: { 'application/json': { schema: errorRef } } },
  '401': { description: 'Missing or invalid admin token', content: { 'application/json': { schema: errorRef } } },
  '404': { description: 'Unknown account, key, group, channel, model or request id; nothing was written', content: { 'application/json': { schema: errorRef } } },
  '503': { description: 'Admin API disabled (SWITCHYARD_ADMIN_TOKEN not set)', content: { 'application/json': { schema: errorRef } } },
};
const ok = (description: string) => ({ description, content: { 'application/json': { schema: { type: 'object' } } } });
const op = (summary: string, extra: Record<string, unknown> = {}, okCode = '200') => ({ summary, security: [{ adminToken: [] }], responses: { [okCode]: ok(summary), ...errors }, ...extra });
const body = (schema: Schema) => ({ requestBody: { required: true, content: { 'application/json': { schema } } } });

const keyLimits = {
  group_id: nullable(str('Group id; null clears')),
  rpm: nullable(int('Requests per minute; null = unlimited')),
  tpm: nullable(int('Tokens per minute; null = unlimited')),
  budget_usd_per_day: nullable(usd('Spend budget per UTC day; null = none')),
  budget_usd_per_month: nullable(usd('Spend budget per UTC month; null = none')),
  route_mode: nullable(str('Default route mode')),
  route_preset: nullable(str('Default route preset')),
  route_allowed_channels: nullable({ type: 'array', items: str('Channel id'), maxItems: 64, description: 'Only these channels may serve the key (hard limit: a request may narrow, never widen); each must be a known channel, else 400 and nothing is written; null clears' }),
  route_order: nullable({ type: 'array', items: str('Channel id'), maxItems: 64, description: 'These channels lead the key\'s plans, in this order; known channels inside route_allowed_channels; null clears' }),
  route_max_input_usd_per_mtok: nullable(usd('Price ceiling per 1M input tokens: pricier channels are never used for the key; null clears')),
  route_max_output_usd_per_mtok: nullable(usd('Price ceiling per 1M output tokens; null clears')),
  route_allow_fallbacks: nullable({ type: 'boolean', description: 'false: one channel only (no fallback, hedge or race), and requests cannot turn fallbacks on; null = default (true)' }),
  route_midstream_failover: nullable({ type: 'boolean', description: 'true: a stream that breaks after partial output continues on the next channel with the partial answer as prefix; null = default (false)' }),
};

export const ADMIN_OPENAPI = {
  openapi: '3.0.3',
  info: {
    title: 'Switchyard billing admin API',
    version: '1.0.0',
    description: 'Accounts, keys, groups, channels, prices, top-ups and ledger queries. Money in responses is integer nano-USD; money in requests is a decimal USD string.',
  },
  servers: [{ url: '/' }],
  components: {
    securitySchemes: { adminToken: { type: 'http', scheme: 'bearer', description: 'SWITCHYARD_ADMIN_TOKEN' } },
    schemas: {
      Error: obj({ error: obj({ message: str(), type: str(), code: nullable(str()), param: nullable(str()) }, ['message', 'type']) }, ['error']),
    },
  },
  paths: {
    '/admin/v1/accounts': {
      get: op('List accounts with balances'),
      post: op('Create an account (200 when it exists: nothing changed)', body(obj({ id: str(), name: str(), balance_usd: usd('Opening balance') }, ['id'])), '201'),
    },
    '/admin/v1/accounts/{id}': { get: op('An account, its balance and keys', { parameters: [idParam('id', 'Account id')] }) },
    '/admin/v1/accounts/{id}/topups': {
      post: op('Credit an account (idempotent per request_id)', { parameters: [idParam('id', 'Account id')], ...body(obj({ usd: usd('Amount'), request_id: str('Idempotency key') }, ['usd'])) }, '201'),
    },
    '/admin/v1/accounts/{id}/ledger': {
      get: op('Ledger entries of an account, newest first', {
        parameters: [
          idParam('id', 'Account id'),
          query('from', 'Occurred at or after (ISO-8601)'),
          query('to', 'Occurred before (ISO-8601)'),
          query('kind', 'usage | topup | adjustment'),
          query('limit', 'Page size, 1-1000 (default 100)', { type: 'integer' }),
          query('cursor', 'next_cursor of the previous page'),
        ],
      }),
    },
    '/admin/v1/ledger/{requestId}': { get: op('The ledger entry of one request id', { parameters: [{ name: 'requestId', in: 'path', required: true, schema: { type: 'string' } }] }) },
    '/admin/v1/keys': {
      get: op('List keys (of one account)', { parameters: [query('account_id', 'Only this account')] }),
      post: op(
        'Create a key; the key itself is in the response once and never again',
        body(obj({ account_id: str(), name: str(), models: { type: 'array', items: str('Model id or glob') }, expires_at: str('ISO-8601'), ...keyLimits }, ['account_id', 'name'])),
        '201',
      ),
    },
    '/admin/v1/keys/{id}': {
      get: op('A key (never the key material)', { parameters: [idParam('id', 'Key id')] }),
      patch: op('Change limits, models, name or expiry', { parameters: [idParam('id', 'Key id')], ...body(obj({ name: str(), models: { type: 'array', items: str() }, expires_at: nullable(str()), ...keyLimits })) }),
    },
    '/admin/v1/keys/{id}/rotate': { post: op('Replace the key material (shown once); the old key stops working', { parameters: [idParam('id', 'Key id')] }) },
    '/admin/v1/keys/{id}/revoke': { post: op('Revoke a key', { parameters: [idParam('id', 'Key id')] }) },
    '/admin/v1/groups': { get: op('List groups') },
    '/admin/v1/groups/{id}': {
      get: op('A group', { parameters: [idParam('id', 'Group id')] }),
      put: op('Create or replace a group', {
        parameters: [idParam('id', 'Group id')],
        ...body(obj({ name: str(), price_multiplier: { type: 'string', pattern: '^\\d{1,4}(\\.\\d{1,6})?$', description: 'Exact decimal, e.g. "1.25"' }, models: { type: 'array', items: str() } })),
      }),
    },
    '/admin/v1/channels': { get: op('List channels (credentials are never returned)') },
    '/admin/v1/channels/{id}': {
      get: op('A channel (credential never returned)', { parameters: [idParam('id', 'Channel id')] }),
      put: op('Create or update a channel; the credential is encrypted at rest', {
        parameters: [idParam('id', 'Channel id')],
        ...body(
          obj(
            {
              provider: { type: 'string', enum: ['openai', 'azure-openai', 'anthropic', 'gemini', 'openai-compatible'] },
              base_url: str(),
              api_key: str('Upstream credential; absent keeps the stored one'),
              credential: obj(
                {
                  type: { type: 'string', enum: ['oauth'] },
                  client_id: str(),
                  client_secret: str(),
                  token_url: str('OAuth token endpoint (grant_type=refresh_token, client auth by HTTP Basic)'),
                  refresh_token: str(),
                  scope: str(),
                  client_auth: { type: 'string', enum: ['basic', 'post'], description: 'Client authentication at the token endpoint (default basic)' },
                },
                ['type', 'client_id', 'client_secret', 'token_url', 'refresh_token'],
              ),
              api_version: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}(-preview)?$', description: 'Azure OpenAI api-version (required for azure-openai)' },
              priority: int(),
              weight: int(),
              enabled: { type: 'boolean' },
              models: { type: 'array', items: str('PUBLIC or PUBLIC=UPSTREAM') },
            },
            ['provider', 'base_url', 'models'],
          ),
        ),
      }),
    },
    '/admin/v1/prices': {
      get: op('Price history of a channel, newest first', { parameters: [query('channel_id', 'Channel id (required)'), query('model', 'Only this model')] }),
      post: op(
        'Add a price (effective now or from a given time)',
        body(
          obj(
            {
              channel_id: str(),
              model: str(),
              input_usd_per_mtok: usd('Input'),
              output_usd_per_mtok: usd('Output'),
              cached_input_usd_per_mtok: usd('Cached input (default: input)'),
              cache_write_usd_per_mtok: usd('Cache write (default: input)'),
              reasoning_usd_per_mtok: usd('Reasoning (default: output)'),
              request_fee_usd: usd('Per-request fee (default 0)'),
              effective_from: str('ISO-8601 (default now)'),
            },
            ['channel_id', 'model', 'input_usd_per_mtok', 'output_usd_per_mtok'],
          ),
        ),
        '201',
      ),
    },
    '/admin/v1/apply': {
      post: op('Apply a declarative configuration (the YAML file\'s shape as JSON): upsert only, idempotent, all or nothing; generated keys are in the response once', {
        parameters: [query('dry_run', 'true: check and report the changes, write nothing', { type: 'boolean' })],
        ...body({
          type: 'object',
          additionalProperties: false,
          description: 'See docs/operations.md "Declarative configuration". Money is a decimal USD string; ${VAR} is refused (no substitution over the API).',
          properties: {
            accounts: { type: 'array', items: obj({ id: str(), name: str(), balance_usd: usd('Opening balance (only when the account is created)') }, ['id']) },
            groups: { type: 'array', items: obj({ id: str(), name: str(), price_multiplier: str('Exact decimal, e.g. "1.25"'), models: { type: 'array', items: str() } }, ['id']) },
            keys: {
              type: 'array',
              items: obj(
                {
                  account: str(),
                  name: str(),
                  key: str('Fixed key material; absent: generated once, on creation'),
                  models: { type: 'array', items: str() },
                  group: str(),
                  expires_at: str('ISO-8601'),
                  route: obj({ mode: { type: 'string', enum: ['race', 'fallback', 'smart'] }, preset: { type: 'string', enum: ['balanced', 'economy', 'performance', 'stability'] } }),
                  limits: obj({ rpm: int(), tpm: int(), budget_usd_per_day: usd('Per UTC day'), budget_usd_per_month: usd('Per UTC month') }),
                },
                ['account', 'name'],
              ),
            },
            channels: {
              type: 'array',
              items: obj(
                {
                  id: str(),
                  provider: { type: 'string', enum: ['openai', 'azure-openai', 'anthropic', 'gemini', 'openai-compatible'] },
                  base_url: str(),
                  api_key: str('Upstream credential; absent keeps the stored one'),
                  priority: int(),
                  weight: int(),
                  enabled: { type: 'boolean' },
                  models: {
                    type: 'array',
                    items: obj(
                      {
                        id: str('Public model id'),
                        upstream: str('Upstream model id (default: id)'),
                        price_usd_per_mtok: obj(
                          { input: usd('Input'), output: usd('Output'), cached_input: usd('Cached input (default: input)'), cache_write: usd('Cache write (default: input)'), reasoning: usd('Reasoning (default: output)') },
                          ['input', 'output'],
                        ),
                        request_fee_usd: usd('Per-request fee'),
                      },
                      ['id'],
                    ),
                  },
                },
                ['id', 'provider', 'base_url', 'models'],
              ),
            },
          },
        }),
      }),
    },
  },
} as const;
