// The loaded policy, read only: version, digest, layers, and each category's actions per direction.
import { explain, getJson } from "./api.js";
import { clear, h, parts, scrollTable, setState } from "./dom.js";

export async function loadPolicy() {
  return getJson("/v1/moderation/policy");
}

export class PolicyView {
  constructor(root) {
    Object.assign(this, parts(root, "policy", "state", "body"));
  }

  async load() {
    setState(this.state, "loading", "Loading the policy…");
    try {
      this.render(await loadPolicy());
      setState(this.state, "", "");
    } catch (error) {
      setState(this.state, "error", explain(error));
    }
  }

  render(policy) {
    const layers = flatten(policy.layers || {});
    clear(this.body).append(
      h(
        "dl",
        { class: "meta" },
        h("dt", {}, "Version"),
        h("dd", { class: "mono", id: "policy-version" }, policy.version),
        h("dt", {}, "Digest"),
        h("dd", { class: "mono" }, policy.digest || "—"),
        h("dt", {}, "Audit keeps content"),
        h("dd", {}, policy.audit_keep_content ? "yes" : "no (digests only)"),
      ),
      h(
        "ul",
        { class: "layers" },
        layers.map(([name, value]) =>
          typeof value === "boolean"
            ? h("li", { "data-layer": name, "data-enabled": String(value) }, `${name}: ${value ? "on" : "off"}`)
            : h("li", { "data-layer": name }, `${name}: ${value}`),
        ),
      ),
      scrollTable(
        "policy",
        "Categories",
        ["Category", "Input", "Output", "Threshold", "Description"],
        categoryRows(policy.categories).map((c) =>
          h(
            "tr",
            { "data-category": c.name },
            h("th", { scope: "row" }, c.name),
            h("td", { class: `action action-${c.input}` }, c.input),
            h("td", { class: `action action-${c.output}` }, c.output),
            h("td", {}, String(c.threshold)),
            h("td", {}, c.description || ""),
          ),
        ),
      ),
    );
  }
}

// {terms: true, image: {ocr: true}} -> [["terms", true], ["image.ocr", true]]; null values left out.
function flatten(object, prefix = "") {
  return Object.entries(object).flatMap(([name, value]) => {
    if (value === null || value === undefined) return [];
    if (typeof value === "object") return flatten(value, `${prefix}${name}.`);
    return [[`${prefix}${name}`, value]];
  });
}

// categories as a list of {name, ...}, whether the API sends a list or an object keyed by name.
export function categoryRows(categories) {
  if (Array.isArray(categories)) return categories;
  return Object.entries(categories || {}).map(([name, spec]) => ({ name, ...spec }));
}
