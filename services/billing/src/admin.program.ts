import { parseArgs, type ParseArgsConfig } from 'node:util';
import { nanoToUsd } from '@switchyard/pricing';
import {
  AdminInputError,
  createAccount,
  createChannel,
  createKey,
  ledger,
  migrate,
  revokeKey,
  setPrice,
  showAccount,
  topup,
  type AdminDeps,
  type Notice,
} from './admin.commands';
import { pgErrorCode } from './db/database';
import type { LedgerEntry } from './ledger/ledger.repository';

/** Exit codes: 0 done, 1 failure (database down, bug), 2 bad input (nothing written). */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_BAD_INPUT = 2;

export const USAGE = `usage: npm run admin -- <command> [options] [--json]

  migrate
  create-account  --id ID [--name NAME] [--balance-usd 100.00]
  topup           --account ID --usd 10 [--request-id ID]
  show-account    --id ID
  create-key      --account ID --name NAME [--key sk-...] [--models 'gpt-4o*,*'] [--expires-at ISO]
  revoke-key      --id KEY_ID
  create-channel  --id ID --provider openai|azure-openai|anthropic|gemini|openai-compatible
                  --base-url URL [--api-key KEY] [--priority N] [--weight N] [--disabled]
                  --model PUBLIC[=UPSTREAM] (repeat per model; the list replaces the channel's models)
  set-price       --channel ID --model PUBLIC --input-usd-per-mtok 0.15 --output-usd-per-mtok 0.60
                  [--cached-input-usd-per-mtok 0.075] [--effective-from ISO]
  ledger          --request-id ID | --account ID [--limit 20]

Amounts are decimal USD (at most 9 decimals). --json prints one JSON object on stdout.
Exit codes: 0 ok, 1 failure, 2 bad input (nothing written).`;

type Options = NonNullable<ParseArgsConfig['options']>;
const s = { type: 'string' } as const;
const b = { type: 'boolean' } as const;

const OPTIONS: Record<string, Options> = {
  migrate: {},
  'create-account': { id: s, name: s, 'balance-usd': s },
  topup: { account: s, usd: s, 'request-id': s },
  'show-account': { id: s },
  'create-key': { account: s, name: s, key: s, models: s, 'expires-at': s },
  'revoke-key': { id: s },
  'create-channel': { id: s, provider: s, 'base-url': s, 'api-key': s, priority: s, weight: s, model: { type: 'string', multiple: true }, disabled: b },
  'set-price': {
    channel: s,
    model: s,
    'input-usd-per-mtok': s,
    'output-usd-per-mtok': s,
    'cached-input-usd-per-mtok': s,
    'effective-from': s,
  },
  ledger: { 'request-id': s, account: s, limit: s },
};

export interface AdminIo {
  stdout: (line: string) => void;
  stderr: (line: string) => void;
}

type Values = Record<string, string | boolean | string[] | undefined>;
const str = (v: Values, k: string) => v[k] as string | undefined;

/** A printable rendering of a command result: text lines, the JSON object, warnings for stderr. */
interface Output {
  lines: string[];
  json: unknown;
  warnings: string[];
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
            `${r.enabled ? 'enabled' : 'disabled'}, credential ${r.has_credential ? 'set' : 'none'})`,
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
    default:
      throw new AdminInputError(`unknown command "${cmd}"`);
  }
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
    values = parseArgs({ args: rest, options: { ...options, json: b }, strict: true, allowPositionals: false }).values as Values;
  } catch (e) {
    io.stderr(`error: ${(e as Error).message}`);
    return EXIT_BAD_INPUT;
  }
  try {
    const out = await run(cmd, values, deps);
    for (const w of out.warnings) io.stderr(w);
    if (values.json) io.stdout(toJson(out.json));
    else for (const l of out.lines) io.stdout(l);
    return EXIT_OK;
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
