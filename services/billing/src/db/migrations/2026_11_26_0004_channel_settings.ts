import { sql, type Kysely, type Migration } from 'kysely';

/**
 * Per-channel settings and the kind of credential a channel holds.
 * - `settings` (jsonb object): non-secret options a provider needs on every
 *   call — Azure OpenAI's `api_version`. Sent to ingress with the credential.
 * - `credential_type`: `api_key` (the credential is the key) or `oauth` (the
 *   credential is the JSON of an OAuth refresh-token grant: client id and
 *   secret, token URL, refresh token, scope). Either way `credential` holds
 *   it AES-GCM encrypted (`enc:v1:`), and it is never returned by the admin API.
 */
export const channelSettings: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .alterTable('channels')
      .addColumn('settings', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`).check(sql`jsonb_typeof(settings) = 'object'`))
      .addColumn('credential_type', 'text', (c) => c.notNull().defaultTo('api_key').check(sql`credential_type in ('api_key', 'oauth')`))
      .execute();
  },
  async down(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable('channels').dropColumn('settings').dropColumn('credential_type').execute();
  },
};
