import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { parse as parseYaml } from 'yaml';
import { createAcmeMetrics } from '../../service/src/acme/renewer.ts';
import { createMetrics, observeRedis } from '../../service/src/infra/metrics.ts';
import type { RedisClient } from '../../service/src/infra/redis-client.ts';
import { repoRoot } from '../../testkit/repo.ts';
import * as promql from './promql.ts';

/**
 * The shipped dashboards, provisioning and rules, checked without a Prometheus (the live check, promql-check.ts, runs
 * in test-stack): valid JSON, one data source uid everywhere, the mounts compose gives Grafana, and no metric name the
 * service does not register.
 */
const dashboards = promql.filesIn(promql.DASHBOARD_DIR, '.json').map((file) => ({
  file: basename(file),
  dashboard: JSON.parse(readFileSync(file, 'utf8')),
}));
type Ref = { type?: string; uid?: string };
type Panel = {
  id: number;
  title: string;
  gridPos: { x: number; w: number };
  datasource?: Ref;
  targets?: Array<{ datasource?: Ref }>;
};
const panelsOf = (dashboard: unknown) => promql.dashboardPanels(dashboard) as unknown as Panel[];
const readYaml = (path: string) => parseYaml(readFileSync(join(repoRoot, path), 'utf8'));
const { datasources } = readYaml('deploy/grafana/provisioning/datasources/prometheus.yml');
const { providers } = readYaml('deploy/grafana/provisioning/dashboards/authstack.yml');
const grafana = readYaml('deploy/compose/monitoring.yml').services.grafana;

describe('the Grafana dashboards', () => {
  it('when parsed, then each has a unique uid, unique panel ids and titles (the check names panels by title), and panels inside the 24-column grid', () => {
    expect(dashboards.length).toBeGreaterThan(0);
    const uids = dashboards.map(({ dashboard }) => dashboard.uid);
    expect(new Set(uids).size).toBe(uids.length);
    const duplicates = (values: unknown[]) => values.filter((value, i) => values.indexOf(value) !== i);
    for (const { file, dashboard } of dashboards) {
      const panels = panelsOf(dashboard);
      const [ids, titles] = [duplicates(panels.map((p) => p.id)), duplicates(panels.map((p) => p.title))];
      const outsideGrid = panels.filter((p) => p.gridPos.x + p.gridPos.w > 24).map((p) => p.title);
      expect({ file, ids, titles, outsideGrid }).toEqual({ file, ids: [], titles: [], outsideGrid: [] });
    }
  });

  it('when a panel, target or variable names a data source, then it is the provisioned Prometheus, by uid', () => {
    expect(datasources).toHaveLength(1);
    for (const { dashboard } of dashboards) {
      const panelRefs = panelsOf(dashboard).flatMap((panel) => [
        panel.datasource,
        ...(panel.targets ?? []).map((t) => t.datasource),
      ]);
      const variableRefs = (dashboard.templating?.list ?? []).map((v: { datasource?: Ref }) => v.datasource);
      const refs = [...panelRefs, ...variableRefs].filter((ref) => ref !== undefined);
      expect(refs.length).toBeGreaterThan(0);
      for (const ref of refs) expect(ref).toEqual({ type: datasources[0].type, uid: datasources[0].uid });
    }
  });

  it('when compose starts Grafana, then provisioning and dashboards are mounted read-only where the provider and the home dashboard point', () => {
    const volumes: string[] = grafana.volumes;
    expect(volumes).toContain('./deploy/grafana/provisioning:/etc/grafana/provisioning:ro');
    const dashboardsMount = volumes.find((v) => v.startsWith('./deploy/grafana/dashboards:'));
    expect(dashboardsMount).toMatch(/:ro$/);
    const target = dashboardsMount!.split(':')[1]!;
    expect(providers.map((p: { options: { path: string } }) => p.options.path)).toEqual([target]);
    const home: string = grafana.environment.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH;
    expect(home.startsWith(`${target}/`)).toBe(true);
    expect(existsSync(join(promql.DASHBOARD_DIR, home.slice(target.length + 1)))).toBe(true);
    expect(grafana.profiles).toEqual(['grafana']);
    expect(grafana.ports.every((port: string) => port.startsWith('127.0.0.1:'))).toBe(true);
  });
});

describe('the PromQL of the dashboards and the alert rules', () => {
  const { queries, recorded, missingPanels } = promql.loadQueries();

  it('when every expression is read, then each names only metrics the service, the certificate renewer or the blackbox exporter export (histograms by their series)', () => {
    const metrics = createMetrics();
    // Registers the Redis gauges; nothing is collected here, so the client is never called.
    observeRedis(metrics, {} as RedisClient, 100);
    const all = [...metrics.registry.getMetricsAsArray(), ...createAcmeMetrics().registry.getMetricsAsArray()];
    const registered = Object.fromEntries(all.map((metric) => [metric.name, String(metric.type)]));
    const { exportedSeriesNames, PROMETHEUS_SERIES, BLACKBOX_SERIES } = promql;
    const known = new Set([...exportedSeriesNames(registered), ...PROMETHEUS_SERIES, ...BLACKBOX_SERIES, ...recorded]);

    const unknown = queries.flatMap((query) =>
      promql.unknownMetrics(query.promql, known, registered).map((name) => `${query.source}: ${name}`),
    );

    expect(queries.length).toBeGreaterThan(20);
    expect(unknown).toEqual([]);
  });

  it('when every expression is parsed by the PromQL grammar, then none has a syntax error', () => {
    const errors = queries.flatMap(
      (query) => promql.syntaxError(query.promql)?.replace(/^/, `${query.source}: `) ?? [],
    );

    expect(errors).toEqual([]);
  });

  it('when Grafana variables are replaced, then no $ variable is left in any expression', () => {
    expect(queries.filter((q) => /\$\w|\$\{|\[\[/.test(q.promql)).map((q) => q.source)).toEqual([]);
  });

  it('when PANELS_WITH_DATA names panels, then each exists in a dashboard', () => {
    expect(promql.PANELS_WITH_DATA.length).toBeGreaterThan(0);
    expect(missingPanels).toEqual([]);
  });
});
