import { describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  consumerLagMetrics,
  createMetricsRegistry,
  httpMetrics,
  ingestMetrics,
  keyCacheMetrics,
  ledgerMetrics,
  planMetrics,
  routingMetrics,
  upstreamMetrics,
} from '@switchyard/metrics';
import { parseConfigText } from '../../services/billing/src/config/declarative-config';

// js-yaml ships no types; this is the one function used.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { loadAll } = require('js-yaml') as { loadAll(text: string): unknown[] };

const ROOT = resolve(__dirname, '../..');
const tools = execFileSync('bash', [join(ROOT, 'deploy/tools/k8s-tools.sh')], { encoding: 'utf8' }).trim();
const helm = (...args: string[]) => spawnSync(join(tools, 'helm/helm'), args, { cwd: ROOT, encoding: 'utf8' });
const chart = join(ROOT, 'helm/switchyard');
const EXTERNAL = join(__dirname, 'values-external.yaml');
const BUNDLED = join(__dirname, 'values-bundled.yaml');

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

function render(...valueFiles: string[]): K8sObject[] {
  const r = helm('template', 'sy', chart, ...valueFiles.flatMap((f) => ['-f', f]));
  if (r.status !== 0) throw new Error(`helm template failed: ${r.stderr}`);
  return (loadAll(r.stdout) as Array<K8sObject | null>).filter((o): o is K8sObject => o !== null);
}

/**
 * Validates an object against the Kubernetes OpenAPI schema of its kind
 * (offline: the kubernetes-models package ships the schemas as compiled
 * validators; the ServiceMonitor one comes from its prometheus-operator
 * package). Throws on a kind it has no schema for.
 */
function validateK8s(o: K8sObject): void {
  const path =
    o.apiVersion === 'monitoring.coreos.com/v1'
      ? `@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/${o.kind}`
      : `kubernetes-models/${o.apiVersion}/${o.kind}`;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require(path) as Record<string, new (o: unknown) => { validate(): void }>;
  const Model = mod[o.kind];
  if (!Model) throw new Error(`no schema for ${o.apiVersion} ${o.kind}`);
  new Model(o).validate();
}

const byKind = (objs: K8sObject[], kind: string) => objs.filter((o) => o.kind === kind);
type Container = { name: string; env?: Array<{ name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }> };
const containersOf = (o: K8sObject) =>
  ((o.spec as { template: { spec: { containers: Container[] } } }).template.spec.containers);

describe('helm chart', () => {
  it('lints strictly with the default, external and bundled values', () => {
    for (const files of [[], [EXTERNAL], [BUNDLED]]) {
      const r = helm('lint', '--strict', chart, ...files.flatMap((f) => ['-f', f]));
      expect(r.stderr + r.stdout).toContain('0 chart(s) failed');
      expect(r.status).toBe(0);
    }
  });

  it.each([
    ['default', []],
    ['external-dependencies', [EXTERNAL]],
    ['bundled', [BUNDLED]],
  ])('renders only objects valid against the Kubernetes schemas (%s values)', (_name, files) => {
    const objs = render(...files);
    expect(objs.length).toBeGreaterThan(10);
    for (const o of objs) {
      try {
        validateK8s(o);
      } catch (e) {
        throw new Error(`${o.kind} ${o.metadata.name}: ${(e as Error).message}`);
      }
    }
  });

  it('the schema check catches a broken object', () => {
    const [deployment] = byKind(render(), 'Deployment');
    const broken = structuredClone(deployment!);
    (broken.spec as { replicas: unknown }).replicas = 'two';
    expect(() => validateK8s(broken)).toThrow(/replicas must be integer/);
  });

  it('renders a Deployment and Service for each of the four services with probes and /metrics scraping', () => {
    const objs = render();
    for (const svc of ['ingress', 'router', 'stats', 'billing']) {
      const d = objs.find((o) => o.kind === 'Deployment' && o.metadata.name === `sy-switchyard-${svc}`);
      expect(d, svc).toBeDefined();
      expect(objs.find((o) => o.kind === 'Service' && o.metadata.name === `sy-switchyard-${svc}`)).toBeDefined();
      const tpl = (d!.spec as { template: { metadata: { annotations: Record<string, string> } } }).template;
      expect(tpl.metadata.annotations).toMatchObject({ 'prometheus.io/scrape': 'true', 'prometheus.io/path': '/metrics' });
      const raw = JSON.stringify(d);
      expect(raw).toContain(`services/${svc}/dist/main.js`);
      expect(raw).toContain('/readyz');
      expect(raw).toContain('/healthz');
    }
    // Ingress scales with an HPA (no fixed replicas), ingress and billing keep a PDB.
    const ingress = objs.find((o) => o.kind === 'Deployment' && o.metadata.name === 'sy-switchyard-ingress')!;
    expect(ingress.spec).not.toHaveProperty('replicas');
    expect(byKind(objs, 'HorizontalPodAutoscaler').map((o) => o.metadata.name)).toEqual(['sy-switchyard-ingress']);
    expect(byKind(objs, 'PodDisruptionBudget').map((o) => o.metadata.name).sort()).toEqual(['sy-switchyard-billing', 'sy-switchyard-ingress']);
    // No ServiceMonitor unless asked for; no bundled infrastructure by default.
    expect(byKind(objs, 'ServiceMonitor')).toHaveLength(0);
    expect(byKind(objs, 'StatefulSet')).toHaveLength(0);
    // The database URL comes from a Secret, never inline.
    const billing = containersOf(objs.find((o) => o.kind === 'Deployment' && o.metadata.name === 'sy-switchyard-billing')!)[0]!;
    expect(billing.env!.find((e) => e.name === 'DATABASE_URL')).toEqual({
      name: 'DATABASE_URL',
      valueFrom: { secretKeyRef: { name: 'switchyard-database', key: 'url' } },
    });
  });

  it('wires external dependencies through URLs and secret references, OTLP and a ServiceMonitor', () => {
    const objs = render(EXTERNAL);
    const env = byKind(objs, 'ConfigMap').find((o) => o.metadata.name === 'sy-switchyard-env')!.data!;
    expect(env).toMatchObject({
      NATS_URL: 'tls://nats.messaging.svc:4222',
      CLICKHOUSE_DATABASE: 'switchyard_prod',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://tempo.monitoring.svc:4318',
      OTEL_TRACES_SAMPLER_ARG: '0.1',
      STATS_BATCH_SIZE: '5000',
      STATS_RETENTION_DAYS: '730',
    });
    // The ClickHouse URL carries credentials here: from a Secret, not the ConfigMap.
    expect(env).not.toHaveProperty('CLICKHOUSE_URL');
    const stats = containersOf(objs.find((o) => o.metadata.name === 'sy-switchyard-stats' && o.kind === 'Deployment')!)[0]!;
    expect(stats.env).toContainEqual({ name: 'CLICKHOUSE_URL', valueFrom: { secretKeyRef: { name: 'switchyard-clickhouse', key: 'url' } } });
    const billing = containersOf(objs.find((o) => o.metadata.name === 'sy-switchyard-billing' && o.kind === 'Deployment')!)[0]!;
    expect(billing.env).toContainEqual({ name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: 'switchyard-pg', key: 'database-url' } } });
    expect(billing.env).toContainEqual({ name: 'FAST_KEY', valueFrom: { secretKeyRef: { name: 'provider-keys', key: 'fast-openai' } } });
    expect(billing.env).toContainEqual({ name: 'SWITCHYARD_CONFIG', value: '/etc/switchyard/config.yaml' });
    const config = objs.find((o) => o.metadata.name === 'sy-switchyard-config')!;
    expect(config.data!['config.yaml']).toContain('api_key: ${FAST_KEY}');
    const [sm] = byKind(objs, 'ServiceMonitor');
    expect(sm!.metadata.labels).toMatchObject({ release: 'kube-prometheus-stack' });
    expect(JSON.stringify(sm!.spec)).toContain('"/metrics"');
    expect(byKind(objs, 'PodDisruptionBudget')).toHaveLength(4);
    expect(byKind(objs, 'StatefulSet')).toHaveLength(0);
  });

  it('the configuration file the chart mounts is one billing accepts', () => {
    const config = render(EXTERNAL).find((o) => o.metadata.name === 'sy-switchyard-config')!;
    const declared = parseConfigText(config.data!['config.yaml']!, { env: { FAST_KEY: 'sk-from-secret' } });
    expect(declared.channels[0]).toMatchObject({ id: 'fast-openai', api_key: 'sk-from-secret', models: [{ model: 'gpt-4o-mini', price: { input: 150_000_000n, output: 600_000_000n } }] });
    expect(declared.accounts[0]).toMatchObject({ id: 'acme', opening_nano: 100_000_000_000n });
  });

  it.each([
    ['existingSecret', { secret: { secretName: 'switchyard-config', items: [{ key: 'switchyard.yaml', path: 'config.yaml' }] } }],
    ['existingConfigMap', { configMap: { name: 'switchyard-config', items: [{ key: 'switchyard.yaml', path: 'config.yaml' }] } }],
  ])('mounts the configuration file from an %s instead of inline content', (source, volume) => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-helm-'));
    const f = join(dir, 'existing.yaml');
    writeFileSync(f, `config:\n  enabled: true\n  ${source}: switchyard-config\n  key: switchyard.yaml\n`);
    const objs = render(EXTERNAL, f);
    for (const o of objs) validateK8s(o);
    expect(objs.find((o) => o.metadata.name === 'sy-switchyard-config')).toBeUndefined();
    const billing = objs.find((o) => o.kind === 'Deployment' && o.metadata.name === 'sy-switchyard-billing')!;
    const pod = (billing.spec as { template: { spec: { volumes: Array<{ name: string }>; containers: Array<{ volumeMounts: unknown[]; env: unknown[] }> } } }).template.spec;
    expect(pod.volumes).toContainEqual({ name: 'config', ...volume });
    expect(pod.containers[0]!.volumeMounts).toContainEqual({ name: 'config', mountPath: '/etc/switchyard', readOnly: true });
    expect(pod.containers[0]!.env).toContainEqual({ name: 'SWITCHYARD_CONFIG', value: '/etc/switchyard/config.yaml' });
  });

  it('bundles NATS, PostgreSQL and ClickHouse as StatefulSets and points the services at them', () => {
    const objs = render(BUNDLED);
    expect(byKind(objs, 'StatefulSet').map((o) => o.metadata.name).sort()).toEqual([
      'sy-switchyard-clickhouse',
      'sy-switchyard-nats',
      'sy-switchyard-postgres',
    ]);
    const env = objs.find((o) => o.metadata.name === 'sy-switchyard-env')!.data!;
    expect(env.NATS_URL).toBe('nats://sy-switchyard-nats:4222');
    expect(env.CLICKHOUSE_URL).toBe('http://sy-switchyard-clickhouse:8123');
    const secret = byKind(objs, 'Secret')[0]!;
    expect(secret.stringData!.url).toBe('postgres://postgres:trial-only-p%40ss@sy-switchyard-postgres:5432/switchyard');
    const billing = containersOf(objs.find((o) => o.metadata.name === 'sy-switchyard-billing' && o.kind === 'Deployment')!)[0]!;
    expect(billing.env).toContainEqual({ name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: 'sy-switchyard-postgres', key: 'url' } } });
  });

  it('refuses bundled PostgreSQL without a password', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-helm-'));
    const f = join(dir, 'nopw.yaml');
    writeFileSync(f, 'bundled:\n  postgres:\n    enabled: true\n');
    const r = helm('template', 'sy', chart, '-f', f);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/bundled\.postgres\.password is required/);
  });

  it.each([
    ['a non-integer replica count', 'services:\n  ingress:\n    replicas: two\n    port: 8080\n', /replicas/],
    ['a misspelt top-level key', 'clickhous:\n  url: http://x:8123\n', /clickhous/],
    ['a NATS URL without a nats:// scheme', 'nats:\n  url: http://nats:4222\n', /url/],
    ['an unknown service', 'services:\n  gateway:\n    replicas: 1\n    port: 80\n', /gateway/],
    ['an out-of-range sampler ratio', 'otel:\n  samplerArg: "5"\n', /samplerArg/],
    ['a routing section in the configuration file (an ingress setting)', 'config:\n  enabled: true\n  content:\n    routing: { default: { mode: race } }\n', /routing/],
  ])('rejects a values file with %s against values.schema.json', (_name, content, message) => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-helm-'));
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, content);
    const r = helm('template', 'sy', chart, '-f', bad);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(message);
  });
});

describe('Grafana dashboards', () => {
  const dir = join(chart, 'dashboards');
  const files = readdirSync(dir).filter((f) => f.endsWith('.json'));

  it('ship as ConfigMaps for the Grafana sidecar, one per JSON file', () => {
    expect(files.sort()).toEqual(['gateway-overview.json', 'routing.json', 'usage-and-spend.json']);
    const cms = byKind(render(), 'ConfigMap').filter((o) => o.metadata.labels?.grafana_dashboard === '1');
    expect(cms).toHaveLength(3);
    for (const cm of cms) {
      const [key, json] = Object.entries(cm.data!)[0]!;
      expect(files).toContain(key);
      expect(JSON.parse(json)).toEqual(JSON.parse(readFileSync(join(dir, key), 'utf8')));
    }
  });

  it('query only metrics that the services declare, and the ClickHouse rollup tables', () => {
    const reg = createMetricsRegistry({ service: 'all' });
    for (const f of [httpMetrics, upstreamMetrics, routingMetrics, planMetrics, keyCacheMetrics, consumerLagMetrics, ingestMetrics, ledgerMetrics]) f(reg);
    const declared = new Set(reg.getMetricsAsArray().map((m) => m.name));
    const used = new Set<string>();
    for (const f of files) {
      const d = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { uid: string; panels: Array<{ targets: Array<{ expr?: string; rawSql?: string }> }> };
      expect(d.uid).toMatch(/^switchyard-/);
      for (const p of d.panels) {
        for (const t of p.targets) {
          for (const m of (t.expr ?? '').match(/\b(switchyard|process|nodejs)_[a-z_]+/g) ?? []) used.add(m.replace(/_(bucket|sum|count)$/, ''));
          for (const table of (t.rawSql ?? '').match(/FROM\s+(\w+)/g) ?? []) {
            expect(['FROM usage_1m_by_account', 'FROM usage_1m_by_model', 'FROM usage_1m_by_channel']).toContain(table);
          }
        }
      }
    }
    expect(used.size).toBeGreaterThan(15);
    for (const m of used) expect(declared, m).toContain(m);
  });
});
