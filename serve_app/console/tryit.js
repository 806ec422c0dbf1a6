// "Try it": a text and pictures through /v1/moderations, the verdict per category, the spans marked,
// each picture with its OCR and QR boxes drawn on it.
import { explain, postJson } from "./api.js";
import { clear, h, onSubmit, parts, readAsDataUrl, setState } from "./dom.js";
import { categoryTable, imageWithBoxes, markedText } from "./results.js";

export class TryView {
  constructor(root) {
    Object.assign(this, parts(root, "try", "form", "text", "drop", "state", "result"));
    this.files = root.querySelector("#try-images");
    this.dropped = [];
    this.shown = []; // object URLs of the pictures on screen, released when the next result replaces them
    onSubmit(this.form, () => this.run());
    this.files.addEventListener("change", () => {
      this.dropped = [];
    });
    this.drop.addEventListener("dragover", (event) => {
      event.preventDefault();
      this.drop.classList.add("over");
    });
    this.drop.addEventListener("dragleave", () => this.drop.classList.remove("over"));
    this.drop.addEventListener("drop", (event) => {
      event.preventDefault();
      this.drop.classList.remove("over");
      this.dropped = [...event.dataTransfer.files].filter((f) => f.type.startsWith("image/"));
      setState(this.state, "", `${this.dropped.length} image(s) ready.`);
    });
  }

  images() {
    return this.dropped.length ? this.dropped : [...this.files.files];
  }

  async run() {
    const text = this.text.value;
    const files = this.images();
    if (!text.trim() && !files.length) {
      setState(this.state, "error", "Enter a text or choose an image first.");
      return;
    }
    setState(this.state, "loading", "Moderating…");
    clear(this.result);
    this.shown.forEach((url) => URL.revokeObjectURL(url));
    this.shown = [];
    try {
      const urls = await Promise.all(files.map(readAsDataUrl));
      const input = files.length
        ? [
            ...(text ? [{ type: "text", text }] : []),
            ...urls.map((url) => ({ type: "image_url", image_url: { url } })),
          ]
        : text;
      const response = await postJson("/v1/moderations", { input });
      this.render(response.results[0], text, files);
      setState(this.state, "", "");
    } catch (error) {
      setState(this.state, "error", explain(error));
    }
  }

  show(file) {
    const url = URL.createObjectURL(file);
    this.shown.push(url);
    return url;
  }

  render(result, text, files) {
    const verdict = h(
      "p",
      { class: `verdict action-${result.action}`, "data-action": result.action },
      result.flagged ? `Flagged: ${result.action}` : "Not flagged",
      ` · policy ${result.policy_version}`,
    );
    const findings = result.image_findings || [];
    this.result.append(
      h(
        "div",
        { class: "try-output" },
        verdict,
        text ? markedText(text, result.category_results) : null,
        categoryTable(result.category_results, "Verdict per category"),
        files.map((file, index) =>
          imageWithBoxes(
            this.show(file),
            findings.filter((f) => f.image_index === index),
            index,
          ),
        ),
      ),
    );
  }
}
