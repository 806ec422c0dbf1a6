// The audit log as a table (filters, cursor paging) and one decision's detail beside its request's others.
import { explain, getJson } from "./api.js";
import { clear, formatTime, h, highlight, isoFromLocal, onSubmit, parts, scrollTable, setState, svg } from "./dom.js";

const DECISIONS = "/v1/moderation/decisions";

export class DecisionsView {
  constructor(root) {
    this.root = root;
    this.form = root.querySelector("#decision-filters");
    this.body = root.querySelector("#decisions-table tbody");
    Object.assign(this, parts(root, "decisions", "state", "older"));
    this.pageLabel = root.querySelector("#decisions-page");
    this.detail = root.querySelector("#decision-detail");
    this.detailBody = root.querySelector("#detail-body");
    this.cursor = null; // next_cursor of the page shown
    this.page = 1;
    onSubmit(this.form, () => this.load(null, 1));
    root.querySelector("#decisions-newest").addEventListener("click", () => this.load(null, 1));
    this.older.addEventListener("click", () => this.load(this.cursor, this.page + 1));
    root.querySelector("#detail-close").addEventListener("click", () => this.closeDetail());
  }

  setCategories(names) {
    const select = this.form.elements.category;
    for (const name of names) select.append(h("option", { value: name }, name));
  }

  filters() {
    const f = this.form.elements;
    return {
      since: isoFromLocal(f.since.value),
      until: isoFromLocal(f.until.value),
      category: f.category.value,
      action: f.action.value,
      direction: f.direction.value,
      request_id: f.request_id.value.trim(),
      limit: f.limit.value,
    };
  }

  async load(cursor, page) {
    setState(this.state, "loading", "Loading decisions…");
    try {
      const result = await getJson(DECISIONS, { ...this.filters(), cursor });
      this.render(result.data);
      this.cursor = result.next_cursor;
      this.page = page;
      this.older.disabled = !result.next_cursor;
      this.pageLabel.textContent = `page ${page}`;
      if (!result.data.length) setState(this.state, "empty", "No decisions match these filters.");
      else setState(this.state, "", "");
    } catch (error) {
      clear(this.body);
      setState(this.state, "error", explain(error));
    }
  }

  render(records) {
    clear(this.body);
    for (const record of records) {
      const open = () => this.open(record);
      const row = h(
        "tr",
        {
          tabindex: "0",
          class: "row",
          "data-id": record.id,
          "data-request-id": record.request_id,
          onclick: open,
          onkeydown: (event) => {
            if (event.key === "Enter" || event.key === " ") {
              event.preventDefault();
              open();
            }
          },
        },
        h("td", {}, formatTime(record.created_at)),
        h("td", { class: "mono" }, record.request_id),
        h("td", {}, record.direction),
        h("td", { class: `action action-${record.action}` }, record.action),
        h("td", {}, record.categories.join(", ") || "—"),
      );
      this.body.append(row);
    }
  }

  async open(record) {
    this.detail.hidden = false;
    this.detail.dataset.id = record.id;
    clear(this.detailBody).append(decisionCard(record), h("p", { class: "state", "data-kind": "loading" }, "Loading the request's other decisions…"));
    this.detail.focus();
    try {
      const siblings = await getJson(DECISIONS, { request_id: record.request_id, limit: 100 });
      const others = h("div", { class: "two request-decisions" });
      for (const direction of ["input", "output"]) {
        const mine = siblings.data.filter((r) => r.direction === direction);
        others.append(
          h(
            "div",
            { "data-direction": direction },
            h("h3", {}, `${direction} decisions of this request`),
            mine.length ? mine.map((r) => summaryCard(r, r.id === record.id)) : h("p", { class: "muted" }, "none"),
          ),
        );
      }
      this.detailBody.lastChild.replaceWith(others);
    } catch (error) {
      this.detailBody.lastChild.replaceWith(h("p", { class: "error" }, explain(error)));
    }
  }

  closeDetail() {
    this.detail.hidden = true;
    const row = this.body.querySelector(`tr[data-id="${this.detail.dataset.id}"]`);
    if (row) row.focus();
  }
}

function fired(record) {
  return (record.extra && record.extra.categories) || {};
}

function decisionCard(record) {
  const extra = record.extra || {};
  const categories = fired(record);
  const names = [...new Set([...record.categories, ...Object.keys(record.scores || {})])];
  const meta = [
    ["Decision", record.id],
    ["Request", record.request_id],
    ["Time (UTC)", formatTime(record.created_at)],
    ["Direction", record.direction],
    ["Action", record.action],
    ["Policy version", record.policy_version],
    ["Model", record.model || "—"],
    ["App version", extra.app_version || "—"],
    ["Content digest", `${record.digest || "sha256"} ${record.content_sha256}`],
  ];
  return h(
    "div",
    { class: "decision" },
    h("dl", { class: "meta" }, meta.map(([term, value]) => [h("dt", {}, term), h("dd", { class: "mono" }, value)])),
    scrollTable(
      "categories",
      "Categories",
      ["Category", "Score", "Action", "Layers", "Spans"],
      names.map((name) => {
        const hit = categories[name];
        return h(
          "tr",
          { class: hit ? "fired" : "", "data-category": name },
          h("th", { scope: "row" }, name),
          h("td", {}, record.scores && name in record.scores ? Number(record.scores[name]).toFixed(3) : "—"),
          h("td", { class: hit ? `action action-${hit.action}` : "" }, hit ? hit.action : "allow"),
          h("td", {}, hit ? hit.layers.join(", ") : "—"),
          h("td", {}, hit ? hit.spans.map(([s, e]) => `${s}–${e}`).join(", ") || "whole text" : "—"),
        );
      }),
    ),
    contentBlock(record, categories),
    imageFindings(extra.images || []),
  );
}

function contentBlock(record, categories) {
  if (record.content === null || record.content === undefined) {
    return h("p", { class: "muted" }, "The text was not kept (the policy's audit_keep_content is off); its digest is.");
  }
  const marks = [];
  for (const [name, hit] of Object.entries(categories)) {
    for (const [start, end, layer] of hit.spans) marks.push({ start, end, category: name, label: `${name} (${layer})` });
  }
  return h("div", {}, h("h3", {}, "Text"), h("p", { class: "screened-text" }, highlight(record.content, marks)));
}

// Image findings with their boxes, drawn to scale (the image itself is never stored, only its digest).
function imageFindings(findings) {
  if (!findings.length) return null;
  const byImage = new Map();
  for (const f of findings) byImage.set(f.image_index, [...(byImage.get(f.image_index) || []), f]);
  return h(
    "div",
    { class: "image-findings" },
    h("h3", {}, "Image findings"),
    [...byImage.entries()].map(([index, list]) => {
      const points = list.flatMap((f) => f.boxes.flat());
      const width = Math.max(1, ...points.map((p) => p[0])) * 1.05;
      const height = Math.max(1, ...points.map((p) => p[1])) * 1.05;
      const plot = svg(
        "svg",
        { viewBox: `0 0 ${width} ${height}`, class: "box-plot", role: "img", "aria-label": `boxes in image ${index + 1}` },
        svg("rect", { x: 0, y: 0, width, height, class: "canvas" }),
        list.flatMap((f) =>
          f.boxes.map((quad) =>
            svg("polygon", { points: quad.map(([x, y]) => `${x},${y}`).join(" "), class: `box box-${f.source}`, "data-category": f.category }),
          ),
        ),
      );
      return h(
        "figure",
        { class: "finding-image", "data-image-index": index },
        plot,
        h(
          "figcaption",
          {},
          `Image ${index + 1}: `,
          list.map((f) => h("span", { class: "finding", "data-category": f.category }, `${f.category} (${f.source}, ${f.layer}${f.text ? `: “${f.text}”` : ""}) `)),
        ),
      );
    }),
  );
}

function summaryCard(record, current) {
  return h(
    "article",
    { class: `summary${current ? " current" : ""}`, "data-id": record.id },
    h("p", {}, h("strong", { class: `action action-${record.action}` }, record.action), ` · ${formatTime(record.created_at)}`),
    h("p", {}, record.categories.join(", ") || "no category fired"),
    record.content ? h("p", { class: "screened-text" }, highlight(record.content, spansOf(record))) : null,
  );
}

function spansOf(record) {
  return Object.entries(fired(record)).flatMap(([name, hit]) =>
    hit.spans.map(([start, end, layer]) => ({ start, end, category: name, label: `${name} (${layer})` })),
  );
}
