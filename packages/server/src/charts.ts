import { renderSvg, type ChartSpec } from '@caregaps/report';

/** How many distinct charts are kept rendered (a dashboard's funnel plot per registry, indicator and purpose). */
const KEPT = 64;
const rendered = new Map<string, Promise<string>>();

/**
 * A vega-lite chart as SVG, rendered once per distinct spec and kept (the last 64): the spec holds only the published
 * numbers it plots, so equal specs draw equal charts, and rendering (hundreds of ms) is the dearest part of a
 * dashboard. Every read behind the chart still goes through the access layer and its audit.
 */
export function chartSvg(spec: ChartSpec): Promise<string> {
  const key = JSON.stringify(spec);
  let svg = rendered.get(key);
  if (svg) {
    rendered.delete(key); // most recently used last
  } else {
    svg = renderSvg(spec);
    svg.catch(() => rendered.delete(key));
    if (rendered.size >= KEPT) rendered.delete(rendered.keys().next().value!);
  }
  rendered.set(key, svg);
  return svg;
}
