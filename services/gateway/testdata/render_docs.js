// render_docs.js runs the docs page's script against a minimal fake DOM and prints what it rendered, so that
// TestDocsPageRendersEveryOperation can check it without a browser. Usage: node render_docs.js script.js openapi.json
"use strict";
const fs = require("fs");
const vm = require("vm");

const script = fs.readFileSync(process.argv[2], "utf8");
const spec = JSON.parse(fs.readFileSync(process.argv[3], "utf8"));

class Node {
  constructor(tag, text) { this.tag = tag; this.attrs = {}; this.children = []; this.text = text || ""; this.listeners = {}; this.value = ""; }
  appendChild(c) { this.children.push(c); c.parent = this; return c; }
  removeChild(c) { this.children = this.children.filter((x) => x !== c); return c; }
  get firstChild() { return this.children[0] || null; }
  setAttribute(k, v) { this.attrs[k] = String(v); }
  addEventListener(type, fn) { (this.listeners[type] = this.listeners[type] || []).push(fn); }
  set textContent(v) { this.children = []; this.text = String(v); }
  get textContent() { return this.text + this.children.map((c) => c.textContent).join(""); }
  focus() {}
}
const byId = {};
for (const id of ["title", "intro", "toc", "app", "auth-token", "auth-clear"]) byId[id] = new Node("div");
const document = {
  createElement: (tag) => new Node(tag),
  createTextNode: (text) => new Node("#text", text),
  getElementById: (id) => byId[id] || null,
};
const storage = {};
const sent = []; // the requests the page made, other than /openapi.json
// answers are the fake server's responses, by path: a token, and an HTML body too big to show whole.
const answers = {
  "/v1/auth/token": { status: 200, type: "application/json", body: JSON.stringify({ access_token: "tok-123", token_type: "Bearer", expires_in: 900 }) },
  "/v1/movies": { status: 200, type: "text/html", body: "<script>alert(1)</script>" + "x".repeat(200000) },
};
const context = {
  document,
  sessionStorage: { getItem: (k) => storage[k] || null, setItem: (k, v) => { storage[k] = v; } },
  fetch: (url, init) => {
    if (url === "/openapi.json") return Promise.resolve({ ok: true, status: 200, json: () => Promise.resolve(spec) });
    sent.push({ url, init });
    const answer = answers[url.split("?")[0]];
    if (!answer) return Promise.reject(new Error("unexpected fetch " + url));
    const headers = { "content-type": answer.type };
    return Promise.resolve({
      ok: answer.status < 300, status: answer.status, statusText: "",
      headers: { get: (k) => headers[k.toLowerCase()] || null, forEach: (fn) => Object.keys(headers).forEach((k) => fn(headers[k], k)) },
      text: () => Promise.resolve(answer.body),
    });
  },
  location: { origin: "http://localhost:8080" },
  console,
};
context.window = context;
vm.createContext(context);
vm.runInContext(script, context, { filename: "docs.js" });

const tick = () => new Promise((resolve) => setTimeout(resolve, 20));
const all = (n, acc = []) => { acc.push(n); n.children.forEach((c) => all(c, acc)); return acc; };
const find = (id) => all(byId.app).find((n) => n.attrs.id === id);
const text = (id) => (find(id) || { textContent: "" }).textContent; // "" when the page made no such element
const submit = (opId) => all(find(opId)).find((n) => n.tag === "form").listeners.submit.forEach((fn) => fn({ preventDefault() {} }));

(async () => {
  await tick();
  const out = { articles: [], forms: 0, tocLinks: 0, intro: byId.intro.textContent, prefilled: [], placeholders: {} };
  const walk = (n) => {
    if (n.tag === "article") out.articles.push(n.attrs.id);
    if (n.tag === "form") out.forms++;
    if (n.tag === "a" && (n.attrs.href || "").startsWith("#")) out.tocLinks++;
    if ((n.tag === "input" || n.tag === "textarea") && n.value !== "") out.prefilled.push(n.attrs.id);
    if (n.attrs.placeholder) out.placeholders[n.attrs.id] = n.attrs.placeholder;
    n.children.forEach(walk);
  };
  walk(byId.app);
  walk(byId.toc);

  // A plain try of the search sends what the form holds: nothing.
  submit("searchMovies");
  await tick();
  out.plainURL = sent.length ? sent[sent.length - 1].url : "";

  // A token from POST /v1/auth/token lands in the Authorization box; its curl line carries the body.
  find("createToken-body").value = JSON.stringify({ username: "o'neil", password: "it's me" });
  submit("createToken");
  await tick();
  out.tokenBox = byId["auth-token"].value;
  out.tokenNotice = text("createToken-token-notice");
  out.tokenCurl = text("createToken-curl");

  // The next try sends the token, keeps it out of the curl line, and shows an HTML body as text, cut short.
  find("searchMovies-query-q").value = "<b>";
  submit("searchMovies");
  await tick();
  out.sentAuthorization = (sent.length && sent[sent.length - 1].init.headers.Authorization) || "";
  out.searchCurl = text("searchMovies-curl");
  out.searchBody = text("searchMovies-response-body");
  out.searchResult = text("searchMovies-result");
  out.elements = [...new Set(all(byId.app).map((n) => n.tag))];
  process.stdout.write(JSON.stringify(out));
})().catch((err) => { console.error(err); process.exit(1); });
