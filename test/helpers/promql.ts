/**
 * Which metrics a Grafana dashboard's queries name, and which metrics a /metrics scrape exposes: for the test
 * that the shipped dashboard only asks for what facecast serves. Not a PromQL parser: it removes what cannot
 * be a metric name (strings, label matchers, ranges, grouping label lists, numbers, durations) and keeps the
 * identifiers that are not functions (followed by "(") or keywords.
 */

/** PromQL keywords and operators that look like identifiers. */
const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'offset', 'and', 'or', 'unless', 'atan2', 'inf', 'nan', 'start', 'end']);

/**
 * Metric names selected by a PromQL expression, or by a Grafana variable query (`label_values(metric{…}, label)`,
 * `query_result(expr)`, `metrics(regex)` names none). Grafana variables ($x, ${x}, $__rate_interval) are allowed
 * wherever Grafana allows them.
 */
export function metricNames(expr: string): string[] {
  let s = expr;
  s = s.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""'); // strings (label values, regexes)
  s = s.replace(/\$\{[^}]*\}|\$[A-Za-z_]\w*/g, '0'); // Grafana variables
  s = s.replace(/\blabel_values\s*\(\s*([^,()]*?(?:\{[^}]*\})?)\s*,\s*[A-Za-z_]\w*\s*\)/g, ' $1 '); // label_values(metric, label)
  s = s.replace(/\blabel_values\s*\(\s*[A-Za-z_]\w*\s*\)/g, ' '); // label_values(label)
  s = s.replace(/\bmetrics\s*\([^)]*\)/g, ' ');
  s = s.replace(/\{[^}]*\}/g, '{}'); // label matchers
  s = s.replace(/\[[^\]]*\]/g, '[]'); // ranges, subqueries
  s = s.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' '); // label lists (sum by (x) (…) → sum (…))
  const names = new Set<string>();
  // An identifier not glued to a number (1e3, 0.5) or a longer name.
  for (const m of s.matchAll(/(?<![\w.:])([A-Za-z_:][\w:]*)(?=\s*(\(?))/g)) {
    const [, name, paren] = m;
    if (paren === '(' || KEYWORDS.has(name.toLowerCase())) continue;
    names.add(name);
  }
  return [...names];
}

/** Every PromQL expression of a Grafana dashboard: panel targets (rows' nested panels too) and variable queries. */
export function dashboardExpressions(dashboard: unknown): { where: string; expr: string }[] {
  const out: { where: string; expr: string }[] = [];
  const d = dashboard as { panels?: Panel[]; templating?: { list?: { name: string; query?: string | { query?: string } }[] } };
  interface Panel {
    title?: string;
    targets?: { expr?: string; refId?: string }[];
    panels?: Panel[];
  }
  const walk = (panels: Panel[] | undefined): void => {
    for (const p of panels ?? []) {
      for (const t of p.targets ?? []) if (typeof t.expr === 'string') out.push({ where: `panel "${p.title ?? '?'}" ${t.refId ?? ''}`, expr: t.expr });
      walk(p.panels);
    }
  };
  walk(d.panels);
  for (const v of d.templating?.list ?? []) {
    const q = typeof v.query === 'string' ? v.query : v.query?.query;
    if (typeof q === 'string' && q !== '') out.push({ where: `variable $${v.name}`, expr: q });
  }
  return out;
}

/**
 * Names a scrape exposes: every sample's name, plus the _bucket/_sum/_count (histograms) and _sum/_count
 * (summaries) series of each declared family, so a family that has no sample yet still counts as exposed.
 */
export function exposedNames(scrape: string): Set<string> {
  const names = new Set<string>();
  for (const line of scrape.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)/.exec(line);
    if (type) {
      const [, name, kind] = type;
      names.add(name);
      if (kind === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
      if (kind === 'summary') for (const s of ['_sum', '_count']) names.add(name + s);
      continue;
    }
    const sample = /^([A-Za-z_:][\w:]*)[{ ]/.exec(line);
    if (sample) names.add(sample[1]);
  }
  return names;
}
