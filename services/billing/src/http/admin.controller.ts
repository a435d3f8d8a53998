import { createHash, timingSafeEqual } from 'node:crypto';
import { Body, Controller, Get, Headers, HttpCode, Inject, Param, Patch, Post, Put, Query, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { Kysely } from 'kysely';
import type { Logger } from '@switchyard/telemetry';
import {
  AdminInputError,
  createAccount,
  createChannel,
  createKey,
  getChannel,
  getGroup,
  getKey,
  ledger,
  ledgerQuery,
  listAccounts,
  listChannelsCommand,
  listGroups,
  listKeysCommand,
  priceHistory,
  revokeKey,
  rotateKey,
  setPrice,
  showAccount,
  topup,
  updateKey,
  upsertGroup,
  type AdminDeps,
  type AdminNotifier,
} from '../admin.commands';
import { BILLING_CONFIG, DATABASE, LOGGER, NATS } from '../billing.tokens';
import type { BillingConfig } from '../billing.config';
import type { DB } from '../db/database';
import { connectionNotifier } from '../admin.notifier';
import type { NatsConnection } from '@switchyard/bus';
import { apiError, bearer, bodyOf, boolField, field, nullableField, stringList, toHttpError, toJson } from './http-errors';
import { ADMIN_OPENAPI } from './admin.openapi';
import { applyConfig } from '../config/apply-config';
import { parseConfigData } from '../config/declarative-config';

type Q = Record<string, string | undefined>;

/**
 * The admin REST API: a thin shell over the admin commands (the same
 * validation as the CLI; a refused request writes nothing). Every route needs
 * `Authorization: Bearer $SWITCHYARD_ADMIN_TOKEN`; without a configured token
 * the API answers 503. Responses carry money as integer nano-USD numbers.
 */
@Controller('admin/v1')
export class AdminController {
  private readonly deps: AdminDeps;
  private readonly tokenHash: Buffer | null;

  constructor(
    @Inject(DATABASE) db: Kysely<DB>,
    @Inject(NATS) nc: NatsConnection,
    @Inject(BILLING_CONFIG) cfg: BillingConfig,
    @Inject(LOGGER) private readonly log: Logger,
  ) {
    const notifier: AdminNotifier = connectionNotifier(nc);
    this.deps = { db, notifier, credentialKey: cfg.credentialKey };
    this.tokenHash = cfg.adminToken ? sha256(cfg.adminToken) : null;
  }

  /** Checks the token, runs the command, maps its failure; the body is JSON-safe. */
  private async run(auth: string | undefined, work: () => Promise<unknown>): Promise<unknown> {
    if (!this.tokenHash) {
      throw apiError(503, 'the admin API is disabled: set SWITCHYARD_ADMIN_TOKEN on the billing service to enable it', 'service_unavailable', 'admin_disabled');
    }
    const token = bearer(auth);
    if (!token) throw apiError(401, 'missing admin token: send Authorization: Bearer <SWITCHYARD_ADMIN_TOKEN>', 'authentication_error', 'missing_token');
    if (!timingSafeEqual(sha256(token), this.tokenHash)) throw apiError(401, 'invalid admin token', 'authentication_error', 'invalid_token');
    try {
      return toJson(await work());
    } catch (e) {
      const err = toHttpError(e);
      if (err.getStatus() >= 500) this.log.error({ err: (e as Error).message }, 'admin API request failed');
      throw err;
    }
  }

  @Get('openapi.json')
  openapi() {
    return ADMIN_OPENAPI;
  }

  // ------------------------------------------------------------ accounts

  @Post('accounts')
  async createAccount(@Headers('authorization') auth: string | undefined, @Body() raw: unknown, @Res({ passthrough: true }) reply: FastifyReply) {
    return this.run(auth, async () => {
      const b = bodyOf(raw);
      const r = await createAccount(this.deps, { id: field(b, 'id'), name: field(b, 'name'), balance_usd: field(b, 'balance_usd') });
      void reply.status(r.created ? 201 : 200);
      return r;
    });
  }

  @Get('accounts')
  async listAccounts(@Headers('authorization') auth: string | undefined) {
    return this.run(auth, () => listAccounts(this.deps));
  }

  @Get('accounts/:id')
  async getAccount(@Headers('authorization') auth: string | undefined, @Param('id') id: string) {
    return this.run(auth, () => showAccount(this.deps, { id }));
  }

  @Post('accounts/:id/topups')
  async topup(@Headers('authorization') auth: string | undefined, @Param('id') id: string, @Body() raw: unknown, @Res({ passthrough: true }) reply: FastifyReply) {
    return this.run(auth, async () => {
      const b = bodyOf(raw);
      const r = await topup(this.deps, { account: id, usd: field(b, 'usd'), request_id: field(b, 'request_id') });
      void reply.status(r.applied ? 201 : 200);
      return r;
    });
  }

  @Get('accounts/:id/ledger')
  async accountLedger(@Headers('authorization') auth: string | undefined, @Param('id') id: string, @Query() q: Q) {
    return this.run(auth, () => ledgerQuery(this.deps, { account: id, from: q.from, to: q.to, kind: q.kind, limit: q.limit, cursor: q.cursor }));
  }

  @Get('ledger/:requestId')
  async ledgerEntry(@Headers('authorization') auth: string | undefined, @Param('requestId') requestId: string) {
    return this.run(auth, async () => (await ledger(this.deps, { request_id: requestId })).entries[0]);
  }

  // ------------------------------------------------------------ keys

  @Post('keys')
  async createKey(@Headers('authorization') auth: string | undefined, @Body() raw: unknown, @Res({ passthrough: true }) reply: FastifyReply) {
    return this.run(auth, async () => {
      const b = bodyOf(raw);
      const r = await createKey(this.deps, {
        account: field(b, 'account_id'),
        name: field(b, 'name'),
        models: stringList(b, 'models')?.join(','),
        expires_at: field(b, 'expires_at'),
        limits: limitsOf(b),
      });
      void reply.status(r.created ? 201 : 200);
      return { ...r, key_view: await getKey(this.deps, { id: r.id }) };
    });
  }

  @Get('keys')
  async listKeys(@Headers('authorization') auth: string | undefined, @Query() q: Q) {
    return this.run(auth, () => listKeysCommand(this.deps, { account: q.account_id }));
  }

  @Get('keys/:id')
  async getKey(@Headers('authorization') auth: string | undefined, @Param('id') id: string) {
    return this.run(auth, () => getKey(this.deps, { id }));
  }

  @Patch('keys/:id')
  async updateKey(@Headers('authorization') auth: string | undefined, @Param('id') id: string, @Body() raw: unknown) {
    return this.run(auth, () => {
      const b = bodyOf(raw);
      const models = stringList(b, 'models');
      return updateKey(this.deps, {
        id,
        name: field(b, 'name'),
        models: models === undefined ? undefined : models.join(','),
        expires_at: nullableField(b, 'expires_at'),
        ...limitsOf(b),
      });
    });
  }

  @Post('keys/:id/rotate')
  @HttpCode(200)
  async rotateKey(@Headers('authorization') auth: string | undefined, @Param('id') id: string) {
    return this.run(auth, () => rotateKey(this.deps, { id }));
  }

  @Post('keys/:id/revoke')
  @HttpCode(200)
  async revokeKey(@Headers('authorization') auth: string | undefined, @Param('id') id: string) {
    return this.run(auth, () => revokeKey(this.deps, { id }));
  }

  // ------------------------------------------------------------ groups

  @Put('groups/:id')
  async putGroup(@Headers('authorization') auth: string | undefined, @Param('id') id: string, @Body() raw: unknown, @Res({ passthrough: true }) reply: FastifyReply) {
    return this.run(auth, async () => {
      const b = bodyOf(raw);
      const r = await upsertGroup(this.deps, { id, name: field(b, 'name'), price_multiplier: field(b, 'price_multiplier'), models: stringList(b, 'models')?.join(',') });
      void reply.status(r.created ? 201 : 200);
      return r.group;
    });
  }

  @Get('groups')
  async listGroups(@Headers('authorization') auth: string | undefined) {
    return this.run(auth, () => listGroups(this.deps));
  }

  @Get('groups/:id')
  async getGroup(@Headers('authorization') auth: string | undefined, @Param('id') id: string) {
    return this.run(auth, () => getGroup(this.deps, { id }));
  }

  // ------------------------------------------------------------ channels and prices

  @Put('channels/:id')
  async putChannel(@Headers('authorization') auth: string | undefined, @Param('id') id: string, @Body() raw: unknown, @Res({ passthrough: true }) reply: FastifyReply) {
    return this.run(auth, async () => {
      const b = bodyOf(raw);
      const enabled = boolField(b, 'enabled');
      const r = await createChannel(this.deps, {
        id,
        provider: field(b, 'provider'),
        base_url: field(b, 'base_url'),
        api_key: field(b, 'api_key'),
        // `credential: {type: "oauth", client_id, client_secret, token_url, refresh_token, scope?}` instead of a key.
        ...(b.credential !== undefined ? { oauth: b.credential } : {}),
        api_version: field(b, 'api_version'),
        priority: field(b, 'priority', { integer: true }),
        weight: field(b, 'weight', { integer: true }),
        models: stringList(b, 'models'),
        disabled: enabled === undefined ? false : !enabled,
      });
      void reply.status(r.created ? 201 : 200);
      return r;
    });
  }

  @Get('channels')
  async listChannels(@Headers('authorization') auth: string | undefined) {
    return this.run(auth, () => listChannelsCommand(this.deps));
  }

  @Get('channels/:id')
  async getChannel(@Headers('authorization') auth: string | undefined, @Param('id') id: string) {
    return this.run(auth, () => getChannel(this.deps, { id }));
  }

  @Post('prices')
  async setPrice(@Headers('authorization') auth: string | undefined, @Body() raw: unknown) {
    return this.run(auth, () => {
      const b = bodyOf(raw);
      return setPrice(this.deps, {
        channel: field(b, 'channel_id'),
        model: field(b, 'model'),
        input_usd_per_mtok: field(b, 'input_usd_per_mtok'),
        output_usd_per_mtok: field(b, 'output_usd_per_mtok'),
        cached_input_usd_per_mtok: field(b, 'cached_input_usd_per_mtok'),
        cache_write_usd_per_mtok: field(b, 'cache_write_usd_per_mtok'),
        reasoning_usd_per_mtok: field(b, 'reasoning_usd_per_mtok'),
        request_fee_usd: field(b, 'request_fee_usd'),
        effective_from: field(b, 'effective_from'),
      });
    });
  }

  // ------------------------------------------------------------ declarative configuration

  /**
   * The declarative file's content as a JSON body (the same shape and checks
   * as `npm run admin -- apply`). `${VAR}` is refused here: the API must not
   * hand out billing's own environment.
   */
  @Post('apply')
  @HttpCode(200)
  async apply(@Headers('authorization') auth: string | undefined, @Body() raw: unknown, @Query() q: Q) {
    return this.run(auth, async () => {
      const dryRun = q.dry_run === undefined ? false : q.dry_run === 'true' ? true : q.dry_run === 'false' ? false : undefined;
      if (dryRun === undefined) throw new AdminInputError('dry_run must be true or false');
      return applyConfig(this.deps, parseConfigData(bodyOf(raw), { env: null, source: 'request body' }), { dryRun, source: 'request body' });
    });
  }

  @Get('prices')
  async priceHistory(@Headers('authorization') auth: string | undefined, @Query() q: Q) {
    return this.run(auth, () => priceHistory(this.deps, { channel: q.channel_id, model: q.model }));
  }
}

function limitsOf(b: Record<string, unknown>) {
  return {
    group: nullableField(b, 'group_id'),
    rpm: nullableField(b, 'rpm', { integer: true }),
    tpm: nullableField(b, 'tpm', { integer: true }),
    budget_usd_per_day: nullableField(b, 'budget_usd_per_day'),
    budget_usd_per_month: nullableField(b, 'budget_usd_per_month'),
    route_mode: nullableField(b, 'route_mode'),
    route_preset: nullableField(b, 'route_preset'),
    route_channels: nullableList(b, 'route_allowed_channels'),
    route_order: nullableList(b, 'route_order'),
    route_max_input_usd_per_mtok: nullableField(b, 'route_max_input_usd_per_mtok'),
    route_max_output_usd_per_mtok: nullableField(b, 'route_max_output_usd_per_mtok'),
    route_fallbacks: nullableBool(b, 'route_allow_fallbacks'),
    route_midstream_failover: nullableBool(b, 'route_midstream_failover'),
  };
}

function nullableList(b: Record<string, unknown>, name: string): string[] | null | undefined {
  return b[name] === null ? null : stringList(b, name);
}

function nullableBool(b: Record<string, unknown>, name: string): boolean | null | undefined {
  return b[name] === null ? null : boolField(b, name);
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}
