// Small DOM helpers. Text always goes in as text nodes, never as HTML: decisions hold user content.

export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

const SVG_NS = "http://www.w3.org/2000/svg";

export function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

// A view's elements by id, where the ids are the view's prefix and the names in kebab-case:
// parts(root, "chat", "form", "maxTokens") -> { form: #chat-form, maxTokens: #chat-max-tokens }.
export function parts(root, prefix, ...names) {
  const kebab = (name) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  return Object.fromEntries(names.map((name) => [name, root.querySelector(`#${prefix}-${kebab(name)}`)]));
}

// ``form``'s submit runs ``handler`` instead of navigating.
export function onSubmit(form, handler) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    handler();
  });
}

// A captioned table in a scrolling box: one header row of ``columns``, then ``rows`` (<tr> nodes).
export function scrollTable(className, caption, columns, rows) {
  return h(
    "div",
    { class: "scroll" },
    h(
      "table",
      { class: className },
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, columns.map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows),
    ),
  );
}

export function clear(node) {
  node.replaceChildren();
  return node;
}

// A status line: kind is "loading", "empty", "error" or "" (nothing to say).
export function setState(node, kind, message = "") {
  node.textContent = message;
  node.dataset.kind = kind;
  node.hidden = !message;
}

// ``text`` with the [start, end) spans marked; each mark is titled with the categories and layers.
export function highlight(text, marks) {
  const sorted = [...marks].sort((a, b) => a.start - b.start || b.end - a.end);
  const out = h("span", { class: "highlighted" });
  let cursor = 0;
  for (const mark of sorted) {
    const start = Math.max(mark.start, cursor);
    if (mark.end <= start) continue;
    out.append(text.slice(cursor, start));
    out.append(h("mark", { title: mark.label, "data-category": mark.category }, text.slice(start, mark.end)));
    cursor = mark.end;
  }
  out.append(text.slice(cursor));
  return out;
}

export function formatTime(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toISOString().replace("T", " ").slice(0, 19);
}

// A datetime-local value (the browser's local time) as ISO 8601 with a timezone, or "" when empty.
export function isoFromLocal(value) {
  return value ? new Date(value).toISOString() : "";
}

export function localFromDate(date) {
  const shifted = new Date(date.getTime() - date.getTimezoneOffset() * 60000);
  return shifted.toISOString().slice(0, 19);
}

export function readAsDataUrl(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}
