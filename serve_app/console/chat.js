// A prompt (and an image) through /v1/chat/completions with stream: true, shown as the screened
// stream arrives, with the input's and the output's filter results.
import { explain, streamChat } from "./api.js";
import { clear, onSubmit, parts, readAsDataUrl, setState } from "./dom.js";
import { categoryTable } from "./results.js";

export class ChatView {
  constructor(root) {
    const names = ["form", "prompt", "image", "maxTokens", "state", "output", "inputResults", "outputResults"];
    Object.assign(this, parts(root, "chat", ...names));
    onSubmit(this.form, () => this.run());
  }

  async run() {
    const prompt = this.prompt.value.trim();
    if (!prompt) {
      setState(this.state, "error", "Enter a prompt first.");
      return;
    }
    clear(this.output);
    clear(this.inputResults);
    clear(this.outputResults);
    this.output.dataset.done = "false";
    setState(this.state, "loading", "Streaming…");
    const file = this.image.files[0];
    const content = file
      ? [{ type: "image_url", image_url: { url: await readAsDataUrl(file) } }, { type: "text", text: prompt }]
      : prompt;
    let finish = null;
    try {
      await streamChat(
        { messages: [{ role: "user", content }], max_tokens: Number(this.maxTokens.value) || 64 },
        (chunk) => {
          if (chunk.error) throw Object.assign(new Error(chunk.error.message), { streamed: chunk.error });
          if (chunk.prompt_filter_results) {
            this.inputResults.append(categoryTable(chunk.prompt_filter_results[0].content_filter_results, "Input"));
          }
          const choice = chunk.choices && chunk.choices[0];
          if (!choice) return;
          if (choice.delta && choice.delta.content) this.output.append(choice.delta.content);
          if (choice.finish_reason) {
            finish = choice.finish_reason;
            this.outputResults.append(categoryTable(choice.content_filter_results, "Output"));
          }
        },
      );
      this.output.dataset.done = "true";
      this.output.dataset.finishReason = finish || "";
      setState(this.state, "", `Finished: ${finish || "unknown"}.`);
    } catch (error) {
      this.output.dataset.done = "error";
      setState(this.state, "error", error.streamed ? `The stream ended with an error: ${error.message}` : explain(error));
    }
  }
}
