import { describe, expect, it } from '@jest/globals';
import * as promql from './promql.ts';

const { builtinVariables, dashboardQueries, metricNames, substituteVariables, syntaxError } = promql;
const sourcesAndExprs = (queries: promql.QuerySource[]) => queries.map((q) => [q.source, q.expr]);

describe('dashboardQueries', () => {
  it('when panels sit in expanded rows, collapsed rows and old-style rows, then every target expr is found with its panel and refId', () => {
    const targets = [
      { refId: 'A', expr: 'a_total' },
      { refId: 'B', expr: '  ' },
      { refId: 'C', expr: 'b_total' },
    ];
    const dashboard = {
      title: 'd',
      panels: [
        { type: 'row', title: 'open row', collapsed: false, panels: [] },
        {
          type: 'timeseries',
          title: 'top',
          targets: [{ refId: 'A', expr: 'up', datasource: { type: 'prometheus', uid: 'p' } }],
        },
        { type: 'row', title: 'closed row', collapsed: true, panels: [{ type: 'stat', title: 'nested', targets }] },
        { type: 'text', title: 'no targets' },
      ],
      rows: [{ panels: [{ title: 'legacy', targets: [{ refId: 'Z', expr: 'c_total' }] }] }],
    };

    expect(sourcesAndExprs(dashboardQueries(dashboard, 'd.json'))).toEqual([
      ['d.json: top [A]', 'up'],
      ['d.json: nested [A]', 'a_total'],
      ['d.json: nested [C]', 'b_total'],
      ['d.json: legacy [Z]', 'c_total'],
    ]);
    const titles = ['open row', 'top', 'closed row', 'nested', 'no targets', 'legacy'];
    expect(promql.dashboardPanels(dashboard).map((p) => p.title)).toEqual(titles);
  });

  it('when a query variable uses label_values or query_result, then its PromQL is checked too; label_names and label-only forms give none', () => {
    const list = [
      {
        name: 'instance',
        type: 'query',
        query: { query: 'label_values(up{job="a", x=~"1,2"}, instance)', refId: 'v' },
      },
      { name: 'old', type: 'query', query: 'query_result(topk(3, rate(x_total[5m])))' },
      { name: 'labels', type: 'query', query: 'label_names()' },
      { name: 'plain', type: 'query', query: 'label_values(instance)' },
      { name: 'c', type: 'custom', query: 'a,b' },
    ];

    expect(sourcesAndExprs(dashboardQueries({ title: 'd', templating: { list } }, 'd.json'))).toEqual([
      ['d.json: variable $instance', 'up{job="a", x=~"1,2"}'],
      ['d.json: variable $old', 'topk(3, rate(x_total[5m]))'],
    ]);
    expect(promql.variableExpr('metrics(foo.*)')).toBeUndefined();
  });

  it('when the file is not a JSON object, then it says which file', () => {
    expect(() => dashboardQueries([1, 2], 'bad.json')).toThrow('bad.json: not a dashboard');
  });
});

describe('ruleQueries and recordedNames', () => {
  it('when a rule file has alerts and recording rules, then each expression is named by its alert or record', () => {
    const record = { record: 'job:req:rate5m', expr: 'sum by (job) (rate(req_total[5m]))' };
    const rules = {
      groups: [{ name: 'g', rules: [{ alert: 'Down', expr: 'up == 0\n', for: '1m' }, record, { alert: 'NoExpr' }] }],
    };

    expect(promql.ruleQueries(rules, 'r.yml').map((q) => [q.source, q.kind, q.expr])).toEqual([
      ['r.yml: Down', 'alert', 'up == 0'],
      ['r.yml: job:req:rate5m', 'record', 'sum by (job) (rate(req_total[5m]))'],
    ]);
    expect(promql.recordedNames(rules)).toEqual(['job:req:rate5m']);
  });
});

describe('substituteVariables', () => {
  const variables = { ...builtinVariables({ rateInterval: '1m', interval: '15s', range: '6h' }), instance: '.*' };

  it('when an expression uses Grafana interval variables in every spelling, then each becomes a concrete duration', () => {
    const expr = 'rate(x[$__rate_interval]) + rate(y[${__interval}]) + increase(z[[[__range]]])';
    expect(substituteVariables(expr, variables)).toBe('rate(x[1m]) + rate(y[15s]) + increase(z[6h])');
  });

  it('when a longer built-in shares a prefix with a shorter one, then the longer one is replaced whole', () => {
    const expr = '$__range_s $__range_ms $__range $__interval_ms';
    expect(substituteVariables(expr, variables)).toBe('21600 21600000 6h 15000');
  });

  it('when a dashboard variable is used with a format, then its check value replaces it', () => {
    const expr = 'up{instance=~"$instance", b=~"${instance:regex}"}';
    expect(substituteVariables(expr, variables)).toBe('up{instance=~".*", b=~".*"}');
  });

  it('when a $1 or another unknown name appears, then it stays as Grafana leaves it; an unknown built-in is an error', () => {
    const kept = 'label_replace(up, "a", "$1", "b", "(.*)") and $unknown';
    expect(substituteVariables(kept, variables)).toBe(kept);
    expect(() => substituteVariables('x[$__auto]', variables)).toThrow('unsupported Grafana variable $__auto');
  });

  it('when an interval is not a Prometheus duration, then building the variables fails naming it', () => {
    expect(() => builtinVariables({ rateInterval: 'soon', interval: '15s', range: '1h' })).toThrow(
      "rateInterval: 'soon'",
    );
    const variables = builtinVariables({ rateInterval: '1h30m', interval: '250ms', range: '1h' });
    expect([variables.__rate_interval_ms, variables.__interval_ms]).toEqual(['5400000', '250']);
    expect(() => builtinVariables({ rateInterval: '1m', interval: '15s', range: '5' })).toThrow("range: '5'");
  });
});

describe('dashboardVariables', () => {
  it('when variables offer All, have a current value, or are constants, then each gets the value the check uses', () => {
    const list = [
      { name: 'instance', type: 'query', includeAll: true, allValue: '.*', current: { value: ['$__all'] } },
      { name: 'noAllValue', type: 'query', includeAll: true },
      { name: 'job', type: 'custom', current: { value: 'authstack' } },
      { name: 'c', type: 'constant', query: '0.95' },
      { name: 'first', type: 'custom', options: [{ value: 'x' }, { value: 'y' }] },
      { name: 'nothing', type: 'query' },
    ];

    const values = { instance: '.*', noAllValue: '.*', job: 'authstack', c: '0.95', first: 'x', nothing: '.*' };
    expect(promql.dashboardVariables({ templating: { list } })).toEqual(values);
  });
});

describe('metricNames', () => {
  it.each<[string, string[]]>([
    ['up', ['up']],
    ['up{job="authstack"} == 0', ['up']],
    [
      'sum by (le) (rate(http_request_duration_seconds_bucket{route="/api/login", status_code=~"5.."}[5m]))',
      ['http_request_duration_seconds_bucket'],
    ],
    ['histogram_quantile(0.95, sum without (instance) (rate(a_bucket[1h30m])))', ['a_bucket']],
    ['sum(rate(a_total[5m])) by (job) / ignoring(code) group_left(version) b_info', ['a_total', 'b_info']],
    ['x * on(instance) group_left y', ['x', 'y']],
    ['(sum(rate(a_total[1m])) or vector(0)) / sum(rate(b_total[1m]))', ['a_total', 'b_total']],
    ['count_values("version", build_info) > bool 1', ['build_info']],
    ['max_over_time(rate(c_total[1m])[30m:1m]) offset 1h', ['c_total']],
    ['d_total @ 1609746000 - d_total @ start() + d_total offset -5m', ['d_total']],
    ['{__name__="e_seconds", job="x"} + {__name__=~"regex_.*"}', ['e_seconds']],
    ['topk(5, f) unless g and h', ['f', 'g', 'h']],
    ['label_replace(job:requests:rate5m, "dst", "$1 by sum", "src", "(.*)")', ['job:requests:rate5m']],
    ['i > 1e3 and j < 0x1F and k != Inf and l == NaN and m > .5', ['i', 'j', 'k', 'l', 'm']],
    ['# a comment naming not_a_metric\nn_total # and another', ['n_total']],
    ['absent(o_total{label="with } brace and ( paren"}) * 2', ['o_total']],
    ['vector(1) + scalar(time())', []],
    ['sum(p) + sum(p{a="b"})', ['p']],
    [
      '{"http.requests.total"} + {"__name__"="q_total", a="b"} + r{__name__!="s"}',
      ['http.requests.total', 'q_total', 'r'],
    ],
  ])('when the expression is %j, then it reads %j', (expr, names) => {
    expect(metricNames(expr)).toEqual(names);
  });

  it('when a string is not closed, then tokenizing fails naming the expression', () => {
    expect(() => metricNames('up{job="x}')).toThrow('unterminated string');
  });

  it('when an expression does not parse, then syntaxError says where and metricNames fails naming the expression', () => {
    expect(syntaxError('sum(rate(a_total[5m])) by (job)')).toBeUndefined();
    expect(syntaxError('sum(rate(a_total[5m])')).toBe('syntax error: unexpected end of expression');
    expect(syntaxError('rate(a_total[5m]) +* 2')).toBe("syntax error at character 20, near '* 2'");
    // Unknown functions are errors, as in Prometheus; so is a Grafana variable left unreplaced.
    expect(syntaxError('no_such_function(a_total)')).toMatch(/^syntax error at character 17/);
    expect(syntaxError('rate(a_total[$__rate_interval])')).toMatch(/^syntax error at character 14/);
    expect(syntaxError('up + "abc')).toBe('unterminated string at character 6');
    expect(() => metricNames('up{job="x"} +')).toThrow('syntax error: unexpected end of expression in: up{job="x"} +');
  });
});

describe('exportedSeriesNames and unknownMetrics', () => {
  const metadata = {
    http_request_duration_seconds: 'histogram',
    rpc_seconds: 'summary',
    auth_login_attempts_total: 'counter',
    redis_up: 'gauge',
  };
  const known = promql.exportedSeriesNames(metadata);

  it('when a histogram or summary is exported, then its suffixed series count as exported, and the bare histogram name does not', () => {
    const histogram = ['_bucket', '_count', '_created', '_sum'].map(
      (suffix) => `http_request_duration_seconds${suffix}`,
    );
    const others =
      'auth_login_attempts_total redis_up rpc_seconds rpc_seconds_count rpc_seconds_created rpc_seconds_sum'.split(' ');
    expect([...known].sort()).toEqual([...histogram, ...others].sort());
  });

  it('when an expression names a metric nobody exports, then it is reported, with a hint for a bare histogram name', () => {
    const { unknownMetrics } = promql;
    expect(unknownMetrics('rate(auth_login_attempts_total[5m]) + redis_up', known, metadata)).toEqual([]);
    const typos = 'rate(auth_login_attempt_total[5m]) + http_request_duration_seconds';
    expect(unknownMetrics(typos, known, metadata)).toEqual([
      'auth_login_attempt_total',
      'http_request_duration_seconds (a histogram: read http_request_duration_seconds_bucket, _sum or _count)',
    ]);
  });
});
