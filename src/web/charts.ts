/**
 * Small charts drawn on the server as SVG: each has a <title> and <desc> (its text alternative) and is shown beside
 * its data table. Every text placed in the SVG is escaped here, so a chart is safe to output raw.
 */

/** Series is one coloured part of a stacked bar: its name, CSS class and a value per category. */
export interface Series {
  name: string;
  className: string;
  values: number[];
}

const esc = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);

/**
 * stackedBars draws one stacked bar per category (e.g. a month) of the given series, with the category labels under
 * the bars and the highest total on the axis; `id` links the SVG to its title and description.
 */
export function stackedBars(o: {
  id: string;
  title: string;
  desc: string;
  categories: string[];
  series: Series[];
}): string {
  const width = 640;
  const height = 200;
  const left = 40;
  const bottom = 24;
  const plot = height - bottom - 10;
  const totals = o.categories.map((_, i) => o.series.reduce((n, s) => n + (s.values[i] ?? 0), 0));
  const max = Math.max(1, ...totals);
  const step = (width - left) / Math.max(1, o.categories.length);
  const bar = Math.max(4, step * 0.6);
  const parts: string[] = [];
  o.categories.forEach((label, i) => {
    let y = height - bottom;
    const x = left + i * step + (step - bar) / 2;
    for (const s of o.series) {
      const v = s.values[i] ?? 0;
      if (v <= 0) continue;
      const h = (v / max) * plot;
      y -= h;
      parts.push(
        `<rect class="${esc(s.className)}" x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${bar.toFixed(1)}" height="${h.toFixed(1)}"><title>${esc(`${label}: ${s.name} ${v}`)}</title></rect>`,
      );
    }
    parts.push(
      `<text x="${(x + bar / 2).toFixed(1)}" y="${height - 8}" text-anchor="middle" class="axis">${esc(label)}</text>`,
    );
  });
  const legend = o.series
    .map(
      (s, i) =>
        `<rect class="${esc(s.className)}" x="${left + i * 120}" y="0" width="10" height="10"></rect><text x="${left + i * 120 + 14}" y="9" class="axis">${esc(s.name)}</text>`,
    )
    .join('');
  return (
    `<svg class="chart" role="img" viewBox="0 0 ${width} ${height}" aria-labelledby="${esc(o.id)}-t ${esc(o.id)}-d" xmlns="http://www.w3.org/2000/svg">` +
    `<title id="${esc(o.id)}-t">${esc(o.title)}</title><desc id="${esc(o.id)}-d">${esc(o.desc)}</desc>` +
    `<line x1="${left}" y1="${height - bottom}" x2="${width}" y2="${height - bottom}" class="axis-line"></line>` +
    `<text x="${left - 4}" y="${height - bottom - plot + 4}" text-anchor="end" class="axis">${max}</text>` +
    `<text x="${left - 4}" y="${height - bottom}" text-anchor="end" class="axis">0</text>` +
    `<g transform="translate(0, 0)">${legend}</g>${parts.join('')}</svg>`
  );
}
