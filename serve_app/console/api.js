// Every call the console makes: the admin key from this tab's session storage, JSON in and out,
// the service's OpenAI-style error bodies turned into ApiError (status, code, message, request id).

const KEY_ITEM = "qvs-console-key";

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code || null;
    this.requestId = error.request_id || null;
  }
}

export const key = {
  get: () => sessionStorage.getItem(KEY_ITEM) || "",
  set: (value) => sessionStorage.setItem(KEY_ITEM, value),
  clear: () => sessionStorage.removeItem(KEY_ITEM),
};

function headers(extra = {}) {
  const value = key.get();
  return value ? { authorization: `Bearer ${value}`, ...extra } : { ...extra };
}

export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(name, value);
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

async function parse(response) {
  const text = await response.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

export async function getJson(path, params = {}) {
  return parse(await fetch(path + query(params), { headers: headers() }));
}

export async function postJson(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: headers({ "content-type": "application/json" }),
    body: JSON.stringify(body),
  });
  return parse(response);
}

// A streamed chat completion: calls onEvent(parsed chunk) for each Server-Sent Event until [DONE].
export async function streamChat(body, onEvent) {
  const response = await fetch("/v1/chat/completions", {
    method: "POST",
    headers: headers({ "content-type": "application/json" }),
    body: JSON.stringify({ ...body, stream: true }),
  });
  if (!response.ok) await parse(response);
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      for (const line of frame.split("\n")) {
        if (!line.startsWith("data: ")) continue;
        const data = line.slice(6);
        if (data === "[DONE]") return;
        onEvent(JSON.parse(data));
      }
    }
  }
}

// What a failed call means for the person at the keyboard.
export function explain(error) {
  if (error instanceof ApiError) {
    if (error.status === 401) return "This key is not valid for this service.";
    if (error.status === 403) return "This key is a caller key: the console needs an admin key.";
    const id = error.requestId ? ` (request ${error.requestId})` : "";
    return `${error.message}${id}`;
  }
  return `The service could not be reached: ${error.message}`;
}
