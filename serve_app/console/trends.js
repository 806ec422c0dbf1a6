// Decisions per time bucket, by category or by action, from GET /v1/moderation/stats (counted by the
// database): a stacked bar chart drawn as SVG by this file, and the same numbers as a table.
import { explain, getJson } from "./api.js";
import { clear, h, isoFromLocal, localFromDate, onSubmit, parts, setState, svg } from "./dom.js";

const DAY_MS = 24 * 3600 * 1000;
const PALETTE = ["#2f6db5", "#c2452d", "#3c8d5a", "#b5842f", "#7a4fb5", "#2fa3b5", "#b52f7a", "#6b6b6b"];
const CHART = { width: 720, height: 260, left: 44, bottom: 40, top: 12, right: 8 };

export class TrendsView {
  constructor(root) {
    Object.assign(this, parts(root, "trends", "form", "state", "chart", "table"));
    const now = new Date();
    this.form.elements.since.value = localFromDate(new Date(now.getTime() - DAY_MS));
    this.form.elements.until.value = localFromDate(new Date(now.getTime() + 3600 * 1000));
    onSubmit(this.form, () => this.load());
  }

  async load() {
    const f = this.form.elements;
    setState(this.state, "loading", "Counting decisions…");
    try {
      const stats = await getJson("/v1/moderation/stats", {
        since: isoFromLocal(f.since.value),
        until: isoFromLocal(f.until.value),
        bucket: f.bucket.value,
      });
      // by category: a decision counts under each category that fired (null: none fired);
      // by action: each decision once
      const rows = f.by.value === "action" ? stats.decisions : stats.series;
      const grouped = group(rows, f.by.value);
      this.draw(grouped);
      if (!grouped.buckets.length) setState(this.state, "empty", "No decisions in this range.");
      else setState(this.state, "", "");
    } catch (error) {
      clear(this.chart);
      setState(this.state, "error", explain(error));
    }
  }

  draw({ buckets, keys, counts }) {
    clear(this.chart);
    clear(this.table.tHead);
    clear(this.table.tBodies[0]);
    if (!buckets.length) return;
    const { width, height, left, bottom, top, right } = CHART;
    const plotW = width - left - right;
    const plotH = height - top - bottom;
    const totals = buckets.map((b) => keys.reduce((sum, k) => sum + (counts.get(`${b}|${k}`) || 0), 0));
    const max = Math.max(1, ...totals);
    const slot = plotW / buckets.length;
    const barW = Math.max(2, slot * 0.7);
    const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "Decisions per bucket", class: "bars" });
    for (const tick of [0, 0.5, 1]) {
      const y = top + plotH * (1 - tick);
      chart.append(svg("line", { x1: left, x2: width - right, y1: y, y2: y, class: "grid" }));
      chart.append(svg("text", { x: left - 6, y: y + 4, class: "tick", "text-anchor": "end" }, String(Math.round(max * tick))));
    }
    buckets.forEach((bucket, i) => {
      let base = top + plotH;
      const x = left + i * slot + (slot - barW) / 2;
      keys.forEach((k, j) => {
        const count = counts.get(`${bucket}|${k}`) || 0;
        if (!count) return;
        const barH = (count / max) * plotH;
        base -= barH;
        chart.append(
          svg(
            "rect",
            { x, y: base, width: barW, height: barH, fill: PALETTE[j % PALETTE.length], class: "bar", "data-bucket": bucket, "data-key": k, "data-count": count },
            svg("title", {}, `${label(bucket)} · ${k}: ${count}`),
          ),
        );
      });
      if (buckets.length <= 12 || i % Math.ceil(buckets.length / 12) === 0) {
        chart.append(svg("text", { x: x + barW / 2, y: height - bottom + 16, class: "tick", "text-anchor": "middle" }, label(bucket)));
      }
    });
    const legend = h(
      "ul",
      { class: "legend" },
      keys.map((k, j) => {
        const swatch = h("span", { class: "swatch" });
        swatch.style.background = PALETTE[j % PALETTE.length]; // CSSOM, which the CSP allows (no inline style)
        return h("li", {}, swatch, k);
      }),
    );
    this.chart.append(chart, legend);
    this.table.tHead.append(h("tr", {}, h("th", { scope: "col" }, "Bucket (UTC)"), keys.map((k) => h("th", { scope: "col" }, k)), h("th", { scope: "col" }, "total")));
    buckets.forEach((bucket, i) => {
      this.table.tBodies[0].append(
        h(
          "tr",
          { "data-bucket": bucket },
          h("th", { scope: "row" }, label(bucket)),
          keys.map((k) => h("td", { "data-key": k }, String(counts.get(`${bucket}|${k}`) || 0))),
          h("td", { "data-key": "total" }, String(totals[i])),
        ),
      );
    });
  }
}

// series rows -> bucket starts (sorted), the keys seen, and count per "bucket|key".
export function group(series, by) {
  const counts = new Map();
  const keys = new Set();
  const buckets = new Set();
  for (const row of series) {
    const k = row[by] || "no category";
    keys.add(k);
    buckets.add(row.start);
    counts.set(`${row.start}|${k}`, (counts.get(`${row.start}|${k}`) || 0) + row.count);
  }
  return { buckets: [...buckets].sort(), keys: [...keys].sort(), counts };
}

function label(iso) {
  return iso.replace("T", " ").slice(0, 16);
}
