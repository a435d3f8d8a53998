import type { Logger } from '@switchyard/telemetry';
import type { AdminDeps } from '../admin.commands';
import { applyConfigFile } from './apply-config';
import { ConfigError, type Env } from './declarative-config';

/**
 * SWITCHYARD_CONFIG at billing start: apply the file or fail the start (a bad
 * file must not leave billing serving an unknown state). The log names what
 * changed, never a secret: generated key material cannot be shown here, so
 * the operator is told how to get usable material.
 */
export async function applyConfigAtStart(deps: AdminDeps, cfg: { file: string; env: Env }, log: Logger): Promise<void> {
  let r;
  try {
    r = await applyConfigFile(deps, cfg.file, cfg.env);
  } catch (e) {
    const issues = e instanceof ConfigError ? e.issues : undefined;
    log.error({ file: cfg.file, issues, err: (e as Error).message }, 'SWITCHYARD_CONFIG was not applied (nothing written); billing does not start');
    throw e;
  }
  const changed = r.changes.filter((c) => c.action !== 'unchanged');
  for (const c of changed) log.info({ kind: c.kind, id: c.id, action: c.action, detail: c.detail }, 'configuration applied');
  for (const n of r.notes) log.warn({ file: cfg.file }, n);
  for (const k of r.generated_keys) {
    log.warn(
      { key_id: k.key_id, account_id: k.account_id, name: k.name, key_prefix: k.key_prefix },
      `key created with generated material, which is not logged: give it key: \${VAR} in the file, or get new material with \`npm run admin -- rotate-key --id ${k.key_id}\``,
    );
  }
  for (const n of r.notices) if (!n.sent) log.warn({ subject: n.subject, reason: n.reason }, 'could not publish a change notice');
  log.info({ file: cfg.file, changed: changed.length, unchanged: r.changes.length - changed.length }, 'declarative configuration applied');
}
