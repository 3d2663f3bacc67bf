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
const context = {
  document,
  sessionStorage: { getItem: (k) => storage[k] || null, setItem: (k, v) => { storage[k] = v; } },
  fetch: (url) => url === "/openapi.json"
    ? Promise.resolve({ ok: true, status: 200, json: () => Promise.resolve(spec) })
    : Promise.reject(new Error("unexpected fetch " + url)),
  location: { origin: "http://localhost:8080" },
  console,
};
context.window = context;
vm.createContext(context);
vm.runInContext(script, context, { filename: "docs.js" });

setTimeout(() => {
  const out = { articles: [], forms: 0, tocLinks: 0, intro: byId.intro.textContent };
  const walk = (n) => {
    if (n.tag === "article") out.articles.push(n.attrs.id);
    if (n.tag === "form") out.forms++;
    if (n.tag === "a" && (n.attrs.href || "").startsWith("#")) out.tocLinks++;
    n.children.forEach(walk);
  };
  walk(byId.app);
  walk(byId.toc);
  process.stdout.write(JSON.stringify(out));
}, 50);
