import { describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');
const tools = execFileSync('bash', [join(ROOT, 'deploy/tools/k8s-tools.sh')], { encoding: 'utf8' }).trim();
const helm = (...args: string[]) => spawnSync(join(tools, 'helm/helm'), args, { cwd: ROOT, encoding: 'utf8' });
const chart = join(ROOT, 'helm/switchyard');

describe('helm chart', () => {
  it('lints strictly', () => {
    const r = helm('lint', '--strict', chart);
    expect(r.stderr + r.stdout).toContain('0 chart(s) failed');
    expect(r.status).toBe(0);
  });

  it('renders a Deployment and Service for each of the four services with probes', () => {
    const r = helm('template', 'sy', chart);
    expect(r.status).toBe(0);
    for (const svc of ['ingress', 'router', 'stats', 'billing']) {
      expect(r.stdout).toContain(`name: sy-switchyard-${svc}`);
      expect(r.stdout).toContain(`services/${svc}/dist/main.js`);
    }
    expect(r.stdout.match(/kind: Deployment/g)).toHaveLength(4);
    expect(r.stdout.match(/path: \/readyz/g)).toHaveLength(4);
    // The database URL comes from a Secret, never inline.
    expect(r.stdout).toContain('secretKeyRef');
    expect(r.stdout).not.toMatch(/DATABASE_URL\s*\n\s*value:/);
  });

  it('rejects a bad values file against values.schema.json', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-helm-'));
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'services:\n  ingress:\n    replicas: two\n    port: 8080\n');
    const r = helm('template', 'sy', chart, '-f', bad);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/replicas/);
  });
});
