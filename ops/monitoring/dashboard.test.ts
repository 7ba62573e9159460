import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { parse as parseYaml } from 'yaml';
import { createMetrics, observeRedis } from '../../service/src/infra/metrics.ts';
import type { RedisClient } from '../../service/src/infra/redis-client.ts';
import { repoRoot } from '../../testkit/repo.ts';
import { DASHBOARD_DIR, PANELS_WITH_DATA, RULES_DIR, loadQueries } from './promql-check.ts';
import { PROMETHEUS_SERIES, dashboardPanels, exportedSeriesNames, syntaxError, unknownMetrics } from './promql.ts';

/**
 * The shipped dashboards, provisioning and rules, checked without a Prometheus (the live check,
 * promql-check.ts, runs in test-stack): valid JSON, one data source uid everywhere, the mounts
 * compose gives Grafana, and no metric name the service does not register.
 */
const dashboardFiles = readdirSync(DASHBOARD_DIR)
  .filter((name) => name.endsWith('.json'))
  .map((name) => join(DASHBOARD_DIR, name));
const ruleFiles = readdirSync(RULES_DIR)
  .filter((name) => name.endsWith('.yml'))
  .map((name) => join(RULES_DIR, name));
interface DataSourceRef {
  type?: string;
  uid?: string;
}
interface Dashboard {
  uid: string;
  panels: unknown[];
  templating?: { list: Array<{ datasource?: DataSourceRef }> };
}
interface Panel {
  id: number;
  title: string;
  gridPos: { x: number; w: number };
  datasource?: DataSourceRef;
  targets?: Array<{ datasource?: DataSourceRef }>;
}
interface ComposeService {
  volumes: string[];
  environment: Record<string, string>;
  profiles: string[];
  ports: string[];
}

const readYaml = <T>(path: string): T => parseYaml(readFileSync(join(repoRoot, path), 'utf8')) as T;
const readDashboard = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as Dashboard;
const datasources = readYaml<{ datasources: Array<{ uid: string; type: string }> }>('deploy/grafana/provisioning/datasources/prometheus.yml').datasources;
const providers = readYaml<{ providers: Array<{ options: { path: string } }> }>('deploy/grafana/provisioning/dashboards/authstack.yml').providers;
const grafana = readYaml<{ services: Record<string, ComposeService> }>('docker-compose.yml').services.grafana!;

describe('the Grafana dashboards', () => {
  it('when parsed, then each has a unique uid, unique panel ids and titles (the check names panels by title), and panels inside the 24-column grid', () => {
    expect(dashboardFiles.length).toBeGreaterThan(0);
    const uids = dashboardFiles.map((file) => readDashboard(file).uid);
    expect(new Set(uids).size).toBe(uids.length);
    for (const file of dashboardFiles) {
      const panels = dashboardPanels(readDashboard(file)) as unknown as Panel[];
      const ids = panels.map((p) => p.id);
      expect({ file: basename(file), uniqueIds: new Set(ids).size }).toEqual({ file: basename(file), uniqueIds: ids.length });
      const titles = panels.map((p) => p.title);
      expect(titles.filter((title, i) => titles.indexOf(title) !== i)).toEqual([]);
      for (const panel of panels) expect(panel.gridPos.x + panel.gridPos.w).toBeLessThanOrEqual(24);
    }
  });

  it('when a panel, target or variable names a data source, then it is the provisioned Prometheus, by uid', () => {
    const [prometheus] = datasources;
    expect(datasources).toHaveLength(1);
    for (const file of dashboardFiles) {
      const dashboard = readDashboard(file);
      const panels = dashboardPanels(dashboard) as unknown as Panel[];
      const refs = [
        ...panels.flatMap((panel) => [panel.datasource, ...(panel.targets ?? []).map((t) => t.datasource)]),
        ...(dashboard.templating?.list ?? []).map((v) => v.datasource),
      ].filter((ref) => ref !== undefined);
      expect(refs.length).toBeGreaterThan(0);
      for (const ref of refs) expect(ref).toEqual({ type: prometheus!.type, uid: prometheus!.uid });
    }
  });

  it('when compose starts Grafana, then provisioning and dashboards are mounted read-only where the provider and the home dashboard point', () => {
    const volumes = grafana.volumes;
    expect(volumes).toContain('./deploy/grafana/provisioning:/etc/grafana/provisioning:ro');
    const dashboardsMount = volumes.find((v) => v.startsWith('./deploy/grafana/dashboards:'));
    expect(dashboardsMount).toMatch(/:ro$/);
    const target = dashboardsMount!.split(':')[1]!;
    expect(providers.map((p) => p.options.path)).toEqual([target]);
    const home = grafana.environment.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH!;
    expect(home.startsWith(`${target}/`)).toBe(true);
    expect(existsSync(join(DASHBOARD_DIR, home.slice(target.length + 1)))).toBe(true);
    expect(grafana.profiles).toEqual(['grafana']);
    expect(grafana.ports.every((port) => port.startsWith('127.0.0.1:'))).toBe(true);
  });
});

describe('the PromQL of the dashboards and the alert rules', () => {
  it('when every expression is read, then each names only metrics the service registers (histograms by their series)', () => {
    const metrics = createMetrics();
    // Registers the Redis gauges; nothing is collected here, so the client is never called.
    observeRedis(metrics, {} as RedisClient, 100);
    const registered = Object.fromEntries(metrics.registry.getMetricsAsArray().map((metric) => [metric.name, String(metric.type)]));
    const { queries, recorded } = loadQueries(dashboardFiles, ruleFiles);
    const known = new Set([...exportedSeriesNames(registered), ...PROMETHEUS_SERIES, ...recorded]);

    const unknown = queries.flatMap((query) => unknownMetrics(query.promql, known, registered).map((name) => `${query.source}: ${name}`));

    expect(queries.length).toBeGreaterThan(20);
    expect(unknown).toEqual([]);
  });

  it('when every expression is parsed by the PromQL grammar, then none has a syntax error', () => {
    const { queries } = loadQueries(dashboardFiles, ruleFiles);

    const errors = queries.flatMap((query) => {
      const error = syntaxError(query.promql);
      return error === undefined ? [] : [`${query.source}: ${error}`];
    });

    expect(errors).toEqual([]);
  });

  it('when Grafana variables are replaced, then no $ variable is left in any expression', () => {
    const { queries } = loadQueries(dashboardFiles, ruleFiles);

    expect(queries.filter((q) => /\$\w|\$\{|\[\[/.test(q.promql)).map((q) => q.source)).toEqual([]);
  });

  it('when PANELS_WITH_DATA names panels, then each exists in a dashboard', () => {
    const { missingPanels } = loadQueries(dashboardFiles, ruleFiles);

    expect(PANELS_WITH_DATA.length).toBeGreaterThan(0);
    expect(missingPanels).toEqual([]);
  });
});
