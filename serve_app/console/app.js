// The console's entry: sign-in with an admin key, the tabs, and the views behind them.
import { explain, key } from "./api.js";
import { ChatView } from "./chat.js";
import { DecisionsView } from "./decisions.js";
import { categoryRows, loadPolicy, PolicyView } from "./policy.js";
import { TrendsView } from "./trends.js";
import { TryView } from "./tryit.js";

const $ = (selector) => document.querySelector(selector);

const views = {
  decisions: new DecisionsView($("#panel-decisions")),
  try: new TryView($("#panel-try")),
  chat: new ChatView($("#panel-chat")),
  trends: new TrendsView($("#panel-trends")),
  policy: new PolicyView($("#panel-policy")),
};
const loaded = new Set();

async function signIn(value) {
  key.set(value);
  const error = $("#login-error");
  error.hidden = true;
  try {
    const policy = await loadPolicy(); // an admin route: a wrong or caller key fails here
    views.decisions.setCategories(categoryRows(policy.categories).map((c) => c.name));
    $("#login").hidden = true;
    $("#app").hidden = false;
    $("#sign-out").hidden = false;
    $("#status").textContent = `Policy ${policy.version}`;
    select("decisions");
  } catch (failure) {
    key.clear();
    error.textContent = explain(failure);
    error.hidden = false;
    $("#key").focus();
  }
}

function select(name) {
  for (const tab of document.querySelectorAll('[role="tab"]')) {
    const on = tab.id === `tab-${name}`;
    tab.setAttribute("aria-selected", String(on));
    tab.tabIndex = on ? 0 : -1;
    $(`#${tab.getAttribute("aria-controls")}`).hidden = !on;
  }
  if (!loaded.has(name)) {
    loaded.add(name);
    if (name === "decisions") views.decisions.load(null, 1);
    if (name === "trends") views.trends.load();
    if (name === "policy") views.policy.load();
  }
}

const tabs = [...document.querySelectorAll('[role="tab"]')];
tabs.forEach((tab, index) => {
  tab.addEventListener("click", () => select(tab.id.slice(4)));
  tab.addEventListener("keydown", (event) => {
    const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
    if (step === undefined) return;
    event.preventDefault();
    const next = tabs[(index + step + tabs.length) % tabs.length];
    next.focus();
    select(next.id.slice(4));
  });
});

$("#login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  signIn($("#key").value.trim());
});

$("#sign-out").addEventListener("click", () => {
  key.clear();
  window.location.reload();
});

if (key.get()) signIn(key.get());
else $("#key").focus();
