// A minimal CommonJS loader, so the page can use the npm build of
// @nats-io/nats-core (CommonJS only; its ES modules are published on JSR,
// not npm) straight from test/js/node_modules, with no bundler and no CDN.
// A browser app would bundle the same files; this loads them as a bundler
// would link them: every module is fetched first (following require()
// calls found in the source, in parallel), then run once on first
// require, with Node's module/exports/require semantics (cycles see the
// partial exports, as in Node).
//
// Resolution is the part of Node's that these packages use: "./x" is x.js
// (directory modules, x/index.js, are not looked for), a bare name is node_modules/<name> with its package.json
// "exports"["."] or "main", and the package.json "browser" map may replace
// a module by nothing (false), as tweetnacl does for Node's crypto.

const root = new URL("/node_modules/", location.href);
const loaded = new Map(); // url -> Promise<{url, src, deps: Map<spec, url|null|undefined>}>
const pkgs = new Map(); // package dir url -> Promise<package.json>

async function text(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`cjs: GET ${url}: ${r.status}`);
  return r.text();
}

function packageJSON(dir) {
  if (!pkgs.has(dir)) pkgs.set(dir, text(new URL("package.json", dir)).then(JSON.parse));
  return pkgs.get(dir);
}

// entry is a package's main module, relative to its directory.
function entry(pkg) {
  let e = pkg.exports?.["."] ?? pkg.exports;
  if (e && typeof e === "object") e = e.browser ?? e.require ?? e.default;
  return typeof e === "string" ? e : pkg.main ?? "index.js";
}

// resolve maps a require() argument in module `from` (of package dir
// `pkgDir`, null for the page) to a module URL, or null for a module the
// package's browser map drops.
async function resolve(spec, from, pkgDir) {
  const browser = pkgDir && (await packageJSON(pkgDir)).browser;
  if (browser && typeof browser === "object" && browser[spec] === false) return null;
  if (spec.startsWith("./") || spec.startsWith("../")) {
    const u = new URL(spec, from);
    return u.pathname.endsWith(".js") || u.pathname.endsWith(".json") ? u.href : u.href + ".js";
  }
  const parts = spec.split("/");
  const name = spec.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
  const dir = new URL(name + "/", root);
  const sub = spec.slice(name.length + 1);
  return new URL(sub ? sub + (sub.endsWith(".js") ? "" : ".js") : entry(await packageJSON(dir)), dir).href;
}

// packageDir is the node_modules/<name>/ directory holding url.
function packageDir(url) {
  const rest = url.slice(root.href.length).split("/");
  const n = rest[0].startsWith("@") ? 2 : 1;
  return new URL(rest.slice(0, n).join("/") + "/", root).href;
}

// fetchModule fetches one module and resolves its require() arguments.
async function fetchModule(url) {
  const src = await text(url);
  const specs = new Set();
  for (const m of src.matchAll(/\brequire\(\s*["']([^"']+)["']\s*\)/g)) specs.add(m[1]);
  const deps = new Map();
  await Promise.all([...specs].map(async (spec) => {
    // Unresolvable (a Node built-in behind a typeof check): an error only
    // if it is really required.
    deps.set(spec, await resolve(spec, url, packageDir(url)).catch(() => undefined));
  }));
  return { url, src, deps };
}

// loadAll fetches main and everything it requires, transitively. Modules
// are started as soon as they are found, without one waiting on another
// (the require graph has cycles).
async function loadAll(main) {
  const start = (url) => {
    if (loaded.has(url)) return;
    loaded.set(url, fetchModule(url).then((m) => {
      for (const dep of m.deps.values()) if (dep) start(dep);
      return m;
    }));
  };
  start(main);
  for (let n = 0; n !== loaded.size;) {
    n = loaded.size;
    await Promise.all(loaded.values());
  }
}

// requirePackage fetches a package and everything it requires, runs it,
// and returns its exports.
export async function requirePackage(name) {
  const main = await resolve(name, root.href, null).catch((e) => { throw new Error(`cjs: ${name}: ${e.message}`); });
  await loadAll(main);
  const mods = new Map();
  for (const [url, p] of loaded) mods.set(url, await p);
  const cache = new Map(); // url -> module
  const run = (url) => {
    if (cache.has(url)) return cache.get(url).exports;
    const m = mods.get(url);
    const module = { exports: {} };
    cache.set(url, module);
    if (url.endsWith(".json")) {
      module.exports = JSON.parse(m.src);
      return module.exports;
    }
    const require = (spec) => {
      const dep = m.deps.get(spec);
      if (dep === null) return {};
      if (dep === undefined) throw new Error(`cjs: cannot require ${spec} from ${url}`);
      return run(dep);
    };
    const fn = new Function("exports", "require", "module", m.src + "\n//# sourceURL=" + url);
    fn.call(module.exports, module.exports, require, module);
    return module.exports;
  };
  return run(main);
}
