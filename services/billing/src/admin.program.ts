import { parseArgs, type ParseArgsConfig } from 'node:util';
import { nanoToUsd } from '@switchyard/pricing';
import {
  AdminInputError,
  createAccount,
  createChannel,
  createKey,
  ledger,
  migrate,
  reconcileLedger,
  rotateKey,
  updateKey,
  upsertGroup,
  type KeyLimitsInput,
  revokeKey,
  setPrice,
  showAccount,
  topup,
  type AdminDeps,
  type Notice,
} from './admin.commands';
import { pgErrorCode } from './db/database';
import type { LedgerEntry } from './ledger/ledger.repository';
import { applyConfigFile, type ApplyResult } from './config/apply-config';

/** Exit codes: 0 done, 1 failure (database down, bug), 2 bad input (nothing written). */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_BAD_INPUT = 2;
/** reconcile found discrepancies. */
export const EXIT_DISCREPANCIES = 3;

export const USAGE = `usage: npm run admin -- <command> [options] [--json]

  migrate
  create-account  --id ID [--name NAME] [--balance-usd 100.00]
  topup           --account ID --usd 10 [--request-id ID]
  show-account    --id ID
  create-key      --account ID --name NAME [--key sk-...] [--models 'gpt-4o*,*'] [--expires-at ISO] [limits]
  update-key      --id KEY_ID [--name N] [--models GLOBS] [--expires-at ISO|none] [limits]
                  limits: [--group ID] [--rpm N] [--tpm N] [--budget-usd-per-day 5] [--budget-usd-per-month 50]
                          [--route-mode M] [--route-preset P]   (update-key: the value none clears one)
                          [--route-channels ch-a,ch-b] [--route-order ch-b,ch-a] (known channel ids)
                          [--route-max-input-usd-per-mtok 1.00] [--route-max-output-usd-per-mtok 4.00]
                          [--route-fallbacks on|off] [--route-midstream-failover on|off]
  rotate-key      --id KEY_ID            (new key material, shown once; the old key stops working)
  revoke-key      --id KEY_ID
  create-group    --id ID [--name NAME] [--price-multiplier 1.25] [--models GLOBS]
  create-channel  --id ID --provider openai|azure-openai|anthropic|gemini|openai-compatible
                  --base-url URL [--api-key KEY] [--priority N] [--weight N] [--disabled]
                  [--api-version 2024-10-21]   (azure-openai: required)
                  [--oauth-client-id ID --oauth-client-secret S --oauth-token-url URL
                   --oauth-refresh-token T [--oauth-scope S] [--oauth-client-auth basic|post]]
                                               (an OAuth refresh-token grant instead of --api-key)
                  --model PUBLIC[=UPSTREAM] (repeat per model; the list replaces the channel's models)
  set-price       --channel ID --model PUBLIC --input-usd-per-mtok 0.15 --output-usd-per-mtok 0.60
                  [--cached-input-usd-per-mtok 0.075] [--cache-write-usd-per-mtok 0.1875]
                  [--reasoning-usd-per-mtok 0.60] [--request-fee-usd 0.0001] [--effective-from ISO]
  ledger          --request-id ID | --account ID [--limit 20]
  reconcile       --from ISO --to ISO    (ledger vs ClickHouse usage_events; exit 3 on discrepancies)
  apply           FILE [--dry-run]       (declarative YAML: accounts, groups, keys, channels, prices;
                                          \${VAR} from the environment; idempotent; all or nothing)

Amounts are decimal USD (at most 9 decimals). --json prints one JSON object on stdout.
Exit codes: 0 ok, 1 failure, 2 bad input (nothing written), 3 reconcile found discrepancies.`;

type Options = NonNullable<ParseArgsConfig['options']>;
const s = { type: 'string' } as const;
const b = { type: 'boolean' } as const;

const LIMIT_OPTIONS = { group: s, rpm: s, tpm: s, 'budget-usd-per-day': s, 'budget-usd-per-month': s, 'route-mode': s, 'route-preset': s, 'route-channels': s, 'route-order': s, 'route-max-input-usd-per-mtok': s, 'route-max-output-usd-per-mtok': s, 'route-fallbacks': s, 'route-midstream-failover': s } as const;

const OPTIONS: Record<string, Options> = {
  migrate: {},
  'create-account': { id: s, name: s, 'balance-usd': s },
  topup: { account: s, usd: s, 'request-id': s },
  'show-account': { id: s },
  'create-key': { account: s, name: s, key: s, models: s, 'expires-at': s, ...LIMIT_OPTIONS },
  'update-key': { id: s, name: s, models: s, 'expires-at': s, ...LIMIT_OPTIONS },
  'rotate-key': { id: s },
  'create-group': { id: s, name: s, 'price-multiplier': s, models: s },
  reconcile: { from: s, to: s },
  'revoke-key': { id: s },
  'create-channel': {
    id: s,
    provider: s,
    'base-url': s,
    'api-key': s,
    'api-version': s,
    'oauth-client-id': s,
    'oauth-client-secret': s,
    'oauth-token-url': s,
    'oauth-refresh-token': s,
    'oauth-scope': s,
    'oauth-client-auth': s,
    priority: s,
    weight: s,
    model: { type: 'string', multiple: true },
    disabled: b,
  },
  'set-price': {
    channel: s,
    model: s,
    'input-usd-per-mtok': s,
    'output-usd-per-mtok': s,
    'cached-input-usd-per-mtok': s,
    'cache-write-usd-per-mtok': s,
    'reasoning-usd-per-mtok': s,
    'request-fee-usd': s,
    'effective-from': s,
  },
  ledger: { 'request-id': s, account: s, limit: s },
  apply: { file: s, 'dry-run': b },
};

export interface AdminIo {
  stdout: (line: string) => void;
  stderr: (line: string) => void;
}

type Values = Record<string, string | boolean | string[] | undefined>;
const str = (v: Values, k: string) => v[k] as string | undefined;
const OAUTH_FLAGS = ['oauth-client-id', 'oauth-client-secret', 'oauth-token-url', 'oauth-refresh-token', 'oauth-scope', 'oauth-client-auth'] as const;

/** A printable rendering of a command result: text lines, the JSON object, warnings for stderr. */
interface Output {
  lines: string[];
  json: unknown;
  warnings: string[];
  /** Default EXIT_OK. */
  exitCode?: number;
}

/** Limit flags as the commands take them; with `clearable`, the word "none" clears a limit. */
function limitsFrom(v: Values, clearable: boolean): KeyLimitsInput {
  const get = (flag: string) => {
    const x = str(v, flag);
    return clearable && x?.trim() === 'none' ? null : x;
  };
  return {
    group: get('group'),
    rpm: get('rpm'),
    tpm: get('tpm'),
    budget_usd_per_day: get('budget-usd-per-day'),
    budget_usd_per_month: get('budget-usd-per-month'),
    route_mode: get('route-mode'),
    route_preset: get('route-preset'),
    route_channels: get('route-channels'),
    route_order: get('route-order'),
    route_max_input_usd_per_mtok: get('route-max-input-usd-per-mtok'),
    route_max_output_usd_per_mtok: get('route-max-output-usd-per-mtok'),
    route_fallbacks: get('route-fallbacks'),
    route_midstream_failover: get('route-midstream-failover'),
  };
}

function noticeWarning(n: Notice, consequence: string): string[] {
  return n.sent ? [] : [`warning: could not publish ${n.subject} (${n.reason}); ${consequence}`];
}

function noticeLine(n: Notice): string[] {
  return n.sent ? [`published ${n.subject}`] : [];
}

function entryLines(e: LedgerEntry): string[] {
  return [
    `${e.request_id}  ${e.kind}  account ${e.account_id}  ${nanoToUsd(e.amount_nano)} USD (${e.amount_nano} nano)` +
      `  balance after ${e.balance_after_nano === null ? '-' : `${nanoToUsd(e.balance_after_nano)} USD`}`,
    ...(e.kind === 'usage'
      ? [
          `  key ${e.key_id ?? '-'}  model ${e.model ?? '-'}  channel ${e.channel_id ?? '-'}  tokens in ${e.input_tokens} (cached ${e.cached_input_tokens}) out ${e.output_tokens} (reasoning ${e.reasoning_tokens})  trace ${e.trace_id ?? '-'}`,
        ]
      : []),
    `  occurred ${e.occurred_at.toISOString()}  booked ${e.created_at.toISOString()}`,
  ];
}

async function run(cmd: string, v: Values, deps: AdminDeps): Promise<Output> {
  switch (cmd) {
    case 'migrate': {
      const r = await migrate(deps);
      return { json: r, warnings: [], lines: [r.applied.length ? `applied migrations: ${r.applied.join(', ')}` : 'schema up to date: no migrations pending'] };
    }
    case 'create-account': {
      const r = await createAccount(deps, { id: str(v, 'id'), name: str(v, 'name'), balance_usd: str(v, 'balance-usd') });
      const bal = `${r.balance_usd} USD (${r.balance_nano} nano)`;
      return {
        json: r,
        warnings: [],
        lines: [r.created ? `created account ${r.account_id} ("${r.name}") with balance ${bal}` : `account ${r.account_id} already exists; nothing changed (balance ${bal})`],
      };
    }
    case 'topup': {
      const r = await topup(deps, { account: str(v, 'account'), usd: str(v, 'usd'), request_id: str(v, 'request-id') });
      const bal = `${r.balance_usd} USD (${r.balance_nano} nano)`;
      return {
        json: r,
        warnings: [],
        lines: [
          r.applied
            ? `topped up ${r.account_id} by ${nanoToUsd(r.amount_nano)} USD (request ${r.request_id}); balance ${bal}`
            : `top-up ${r.request_id} was already booked; nothing changed (balance ${bal})`,
        ],
      };
    }
    case 'show-account': {
      const r = await showAccount(deps, { id: str(v, 'id') });
      return {
        json: r,
        warnings: [],
        lines: [
          `account ${r.account_id} ("${r.name}"), created ${r.created_at.toISOString()}`,
          `balance ${r.balance_usd} USD (${r.balance_nano} nano)`,
          `keys: ${r.keys.length}`,
          ...r.keys.map(
            (k) =>
              `  ${k.id}  ${k.name}  ${k.key_prefix}…  models ${k.models.join(',')}  ` +
              (k.revoked_at ? `revoked ${k.revoked_at.toISOString()}` : k.expires_at ? `expires ${k.expires_at.toISOString()}` : 'active'),
          ),
        ],
      };
    }
    case 'create-key': {
      const r = await createKey(deps, {
        account: str(v, 'account'),
        name: str(v, 'name'),
        key: str(v, 'key'),
        models: str(v, 'models'),
        expires_at: str(v, 'expires-at'),
        limits: limitsFrom(v, false),
      });
      return {
        json: r,
        warnings: [],
        lines: r.created
          ? [
              `created key ${r.id} for account ${r.account_id} (name ${r.name}, prefix ${r.key_prefix}, models ${r.models.join(',')})`,
              `key: ${r.key}`,
              'store the key now: it is not kept and cannot be shown again',
            ]
          : [`key ${r.id} (prefix ${r.key_prefix}) already exists for account ${r.account_id}; nothing changed`],
      };
    }
    case 'update-key': {
      const exp = str(v, 'expires-at');
      const r = await updateKey(deps, {
        id: str(v, 'id'),
        name: str(v, 'name'),
        models: str(v, 'models'),
        expires_at: exp?.trim() === 'none' ? null : exp,
        ...limitsFrom(v, true),
      });
      const k = r.key;
      return {
        json: r,
        warnings: noticeWarning(r.notice, 'ingress caches pick the change up when their entry expires'),
        lines: [
          `updated key ${k.id}: group ${k.group_id ?? '-'} (×${k.price_multiplier}), rpm ${k.rpm ?? '-'}, tpm ${k.tpm ?? '-'}, ` +
            `budget/day ${k.budget_nano_per_day === null ? '-' : `${nanoToUsd(k.budget_nano_per_day)} USD`}, ` +
            `budget/month ${k.budget_nano_per_month === null ? '-' : `${nanoToUsd(k.budget_nano_per_month)} USD`}, ` +
            `route ${k.route_mode ?? '-'}/${k.route_preset ?? '-'}, expires ${k.expires_at?.toISOString() ?? 'never'}`,
          `routing: channels ${k.route_allowed_channels?.join(',') ?? 'all'}, order ${k.route_order?.join(',') ?? '-'}, ` +
            `max price in/out ${k.route_max_input_nano_per_mtok === null ? '-' : nanoToUsd(k.route_max_input_nano_per_mtok)}/${k.route_max_output_nano_per_mtok === null ? '-' : nanoToUsd(k.route_max_output_nano_per_mtok)} USD per 1M, ` +
            `fallbacks ${k.route_allow_fallbacks === false ? 'off' : 'on'}, mid-stream failover ${k.route_midstream_failover ? 'on' : 'off'}`,
          ...noticeLine(r.notice),
        ],
      };
    }
    case 'rotate-key': {
      const r = await rotateKey(deps, { id: str(v, 'id') });
      return {
        json: r,
        warnings: noticeWarning(r.notice, 'ingress caches accept the old key until their entry expires'),
        lines: [`rotated key ${r.id}; the old key no longer works`, `key: ${r.key}`, 'store the key now: it is not kept and cannot be shown again', ...noticeLine(r.notice)],
      };
    }
    case 'create-group': {
      const r = await upsertGroup(deps, { id: str(v, 'id'), name: str(v, 'name'), price_multiplier: str(v, 'price-multiplier'), models: str(v, 'models') });
      const g = r.group;
      return {
        json: r,
        warnings: [],
        lines: [`${r.created ? 'created' : 'updated'} group ${g.id} ("${g.name}"): price ×${g.price_multiplier}, models ${g.models.join(',')}`],
      };
    }
    case 'reconcile': {
      const r = await reconcileLedger(deps, { from: str(v, 'from'), to: str(v, 'to') });
      const line = (kind: string, d: { request_id: string; account_id: string; ledger_estimate_nano: bigint | null; ledger_charged_nano: bigint | null; clickhouse_cost_nano: bigint | null }) =>
        `  ${kind}  ${d.request_id}  account ${d.account_id}  ledger estimate ${d.ledger_estimate_nano ?? '-'} charged ${d.ledger_charged_nano ?? '-'}  clickhouse ${d.clickhouse_cost_nano ?? '-'} (nano)`;
      return {
        json: r,
        warnings: [],
        exitCode: r.clean ? EXIT_OK : EXIT_DISCREPANCIES,
        lines: [
          `reconciled ${r.from.toISOString()} .. ${r.to.toISOString()}: ${r.ledger_requests} ledger usage entries, ${r.clickhouse_requests} ClickHouse rows`,
          ...r.missing_in_clickhouse.map((d) => line('missing in ClickHouse', d)),
          ...r.missing_in_ledger.map((d) => line('missing in ledger', d)),
          ...r.cost_mismatches.map((d) => line('cost mismatch', d)),
          `repriced by billing (informational): ${r.repriced.count} requests, ${r.repriced.charged_minus_estimate_nano} nano charged minus estimated`,
          r.clean
            ? 'clean: no discrepancies'
            : `DISCREPANCIES: ${r.missing_in_clickhouse.length} missing in ClickHouse, ${r.missing_in_ledger.length} missing in ledger, ${r.cost_mismatches.length} cost mismatches`,
        ],
      };
    }
    case 'revoke-key': {
      const r = await revokeKey(deps, { id: str(v, 'id') });
      return {
        json: r,
        warnings: noticeWarning(r.notice, 'ingress caches drop the key when their entry expires'),
        lines: [
          r.already_revoked ? `key ${r.id} was already revoked at ${r.revoked_at.toISOString()}` : `revoked key ${r.id} (account ${r.account_id})`,
          ...noticeLine(r.notice),
        ],
      };
    }
    case 'create-channel': {
      const r = await createChannel(deps, {
        id: str(v, 'id'),
        provider: str(v, 'provider'),
        base_url: str(v, 'base-url'),
        api_key: str(v, 'api-key'),
        ...(OAUTH_FLAGS.some((f) => v[f] !== undefined)
          ? {
              oauth: {
                type: 'oauth',
                client_id: str(v, 'oauth-client-id'),
                client_secret: str(v, 'oauth-client-secret'),
                token_url: str(v, 'oauth-token-url'),
                refresh_token: str(v, 'oauth-refresh-token'),
                scope: str(v, 'oauth-scope'),
                client_auth: str(v, 'oauth-client-auth'),
              },
            }
          : {}),
        api_version: str(v, 'api-version'),
        priority: str(v, 'priority'),
        weight: str(v, 'weight'),
        models: v.model as string[] | undefined,
        disabled: v.disabled === true,
      });
      return {
        json: r,
        warnings: [
          ...r.models.filter((m) => !m.priced).map((m) => `note: ${r.id}/${m.model} has no price yet; it is not offered to the router until set-price`),
          ...noticeWarning(r.notice, 'the router picks the change up on its next periodic refresh'),
        ],
        lines: [
          `${r.created ? 'created' : 'updated'} channel ${r.id} (${r.provider} ${r.base_url}, priority ${r.priority}, weight ${r.weight}, ` +
            `${r.enabled ? 'enabled' : 'disabled'}, credential ${r.has_credential ? (r.credential_type === 'oauth' ? 'oauth' : 'set') : 'none'}` +
            `${r.settings.api_version ? `, api-version ${r.settings.api_version}` : ''})`,
          `models: ${r.models.map((m) => (m.model === m.upstream_model ? m.model : `${m.model}=${m.upstream_model}`)).join(', ')}`,
          ...noticeLine(r.notice),
        ],
      };
    }
    case 'set-price': {
      const r = await setPrice(deps, {
        channel: str(v, 'channel'),
        model: str(v, 'model'),
        input_usd_per_mtok: str(v, 'input-usd-per-mtok'),
        output_usd_per_mtok: str(v, 'output-usd-per-mtok'),
        cached_input_usd_per_mtok: str(v, 'cached-input-usd-per-mtok'),
        cache_write_usd_per_mtok: str(v, 'cache-write-usd-per-mtok'),
        reasoning_usd_per_mtok: str(v, 'reasoning-usd-per-mtok'),
        request_fee_usd: str(v, 'request-fee-usd'),
        effective_from: str(v, 'effective-from'),
      });
      return {
        json: r,
        warnings: noticeWarning(r.notice, 'the router picks the change up on its next periodic refresh'),
        lines: [
          `price of ${r.channel_id}/${r.model} from ${r.effective_from.toISOString()}, USD per 1M tokens: ` +
            `input ${nanoToUsd(r.input_nano_per_mtok)}, output ${nanoToUsd(r.output_nano_per_mtok)}, cached input ${nanoToUsd(r.cached_input_nano_per_mtok)}`,
          ...noticeLine(r.notice),
        ],
      };
    }
    case 'ledger': {
      const r = await ledger(deps, { request_id: str(v, 'request-id'), account: str(v, 'account'), limit: str(v, 'limit') });
      return { json: r, warnings: [], lines: r.entries.length ? r.entries.flatMap(entryLines) : ['no entries'] };
    }
    case 'apply': {
      const file = str(v, 'file');
      if (!file) throw new AdminInputError('apply needs a file: npm run admin -- apply switchyard.yaml');
      return applyOutput(await applyConfigFile(deps, file, process.env, { dryRun: v['dry-run'] === true }));
    }
    default:
      throw new AdminInputError(`unknown command "${cmd}"`);
  }
}

function applyOutput(r: ApplyResult): Output {
  const changed = r.changes.filter((c) => c.action !== 'unchanged');
  return {
    json: r,
    warnings: [...r.notes.map((n) => `note: ${n}`), ...r.notices.flatMap((n) => noticeWarning(n, 'other services pick the change up on their next refresh'))],
    lines: [
      ...changed.map((c) => `${r.dry_run ? 'would be ' : ''}${c.action} ${c.kind} ${c.id}${c.detail ? ` (${c.detail})` : ''}`),
      ...r.generated_keys.flatMap((k) => [`key for ${k.account_id}/${k.name} (${k.key_id}): ${k.key}`]),
      ...(r.generated_keys.length ? ['store the generated keys now: they are not kept and cannot be shown again'] : []),
      `${r.dry_run ? 'dry run, nothing written: ' : ''}${changed.length} changed, ${r.changes.length - changed.length} unchanged`,
      ...r.notices.flatMap(noticeLine),
    ],
  };
}

/** JSON with exact money: bigint → decimal string, Date → ISO. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

/**
 * Parses argv (without `node script`), runs the command and prints its
 * result. Returns the exit code; throws nothing.
 */
export async function runAdmin(argv: string[], deps: AdminDeps, io: AdminIo): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === 'help' || cmd === '--help' || cmd === '-h') {
    (cmd === undefined ? io.stderr : io.stdout)(USAGE);
    return cmd === undefined ? EXIT_BAD_INPUT : EXIT_OK;
  }
  const options = OPTIONS[cmd];
  if (!options) {
    io.stderr(`error: unknown command "${cmd}"\n\n${USAGE}`);
    return EXIT_BAD_INPUT;
  }
  let values: Values;
  try {
    const parsed = parseArgs({ args: rest, options: { ...options, json: b }, strict: true, allowPositionals: cmd === 'apply' });
    values = parsed.values as Values;
    if (parsed.positionals.length > 1 || (parsed.positionals.length === 1 && values.file !== undefined)) throw new Error('apply takes one file');
    if (parsed.positionals[0] !== undefined) values.file = parsed.positionals[0];
  } catch (e) {
    io.stderr(`error: ${(e as Error).message}`);
    return EXIT_BAD_INPUT;
  }
  try {
    const out = await run(cmd, values, deps);
    for (const w of out.warnings) io.stderr(w);
    if (values.json) io.stdout(toJson(out.json));
    else for (const l of out.lines) io.stdout(l);
    return out.exitCode ?? EXIT_OK;
  } catch (e) {
    if (e instanceof AdminInputError) {
      io.stderr(`error: ${e.message}`);
      return EXIT_BAD_INPUT;
    }
    if (pgErrorCode(e) === '42P01') {
      io.stderr('error: the billing tables do not exist yet; run `npm run admin -- migrate` first');
      return EXIT_FAILURE;
    }
    io.stderr(`error: ${cmd} failed: ${(e as Error).message}`);
    return EXIT_FAILURE;
  }
}
