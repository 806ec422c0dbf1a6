// Filter results as tables, matched spans highlighted, image findings drawn over their pictures.
import { h, highlight, scrollTable, svg } from "./dom.js";

// category_results of a response ({name: {filtered, detected, score, action, spans}}) as a table:
// the categories that were detected first, then the rest by score.
export function categoryTable(results, caption) {
  const rows = Object.entries(results || {}).sort(
    ([, a], [, b]) => Number(b.detected) - Number(a.detected) || b.score - a.score,
  );
  return scrollTable(
    "categories",
    caption,
    ["Category", "Detected", "Score", "Action", "Layers"],
    rows.map(([name, r]) =>
      h(
        "tr",
        { class: r.detected ? "fired" : "", "data-category": name, "data-detected": String(r.detected) },
        h("th", { scope: "row" }, name),
        h("td", {}, r.detected ? "yes" : "no"),
        h("td", {}, Number(r.score).toFixed(3)),
        h("td", { class: `action action-${r.action}` }, r.action),
        h("td", {}, [...new Set((r.spans || []).map((s) => s[2]).concat(r.layers || []))].join(", ")),
      ),
    ),
  );
}

// The spans of every detected category, as marks over ``text``.
export function markedText(text, results) {
  const marks = [];
  for (const [name, r] of Object.entries(results || {})) {
    if (!r.detected) continue;
    for (const [start, end, layer] of r.spans || []) marks.push({ start, end, category: name, label: `${name} (${layer})` });
  }
  return h("p", { class: "screened-text" }, highlight(text, marks));
}

// One picture with its findings' boxes drawn over it, in the image's own pixel coordinates.
export function imageWithBoxes(url, findings, index) {
  const figure = h("figure", { class: "finding-image", "data-image-index": index });
  const img = h("img", { src: url, alt: `Input image ${index + 1}` });
  const overlay = svg("svg", { class: "boxes", "aria-hidden": "true", preserveAspectRatio: "none" });
  img.addEventListener("load", () => {
    overlay.setAttribute("viewBox", `0 0 ${img.naturalWidth} ${img.naturalHeight}`);
  });
  for (const finding of findings) {
    for (const quad of finding.boxes || []) {
      overlay.append(
        svg(
          "polygon",
          {
            points: quad.map(([x, y]) => `${x},${y}`).join(" "),
            class: `box box-${finding.source}`,
            "data-category": finding.category,
          },
          svg("title", {}, `${finding.category}: ${finding.text || finding.source}`),
        ),
      );
    }
  }
  figure.append(h("div", { class: "image-frame" }, img, overlay), findingList(findings));
  return figure;
}

export function findingList(findings) {
  if (!findings.length) return h("figcaption", { class: "muted" }, "Nothing found in this image.");
  return h(
    "figcaption",
    {},
    h(
      "ul",
      { class: "findings" },
      findings.map((f) =>
        h(
          "li",
          { "data-category": f.category },
          h("strong", {}, f.category),
          ` · ${f.source} · ${f.layer} · ${Number(f.score).toFixed(2)}`,
          f.text ? h("q", {}, f.text) : null,
        ),
      ),
    ),
  );
}
