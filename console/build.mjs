// Builds the console into server/internal/console/assets, which Baton embeds
// and serves at "/". The output is committed (like gen/) and reproducible:
// the same sources and lock give the same bytes (no timestamps, no source
// maps with absolute paths, content-hashed file names), so `make
// checkconsole` can rebuild and compare.
//
// The console talks to Baton through @batonhq/client/web, built from its
// sources in clients/ts/src, over the generated code in gen/ts: the very
// code partners use.
import { build } from "esbuild";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..");
const out = join(root, "server/internal/console/assets");
const clientSrc = join(root, "clients/ts/src");
const genTs = join(root, "gen/ts");

// clients/ts/src imports "./gen/..." (copied there by its own build); read
// it straight from gen/ts instead, the source of truth.
const genRedirect = {
  name: "gen-redirect",
  setup(b) {
    b.onResolve({ filter: /^\.\/gen\// }, (args) => {
      if (!args.importer.startsWith(clientSrc)) return undefined;
      const rel = args.path.slice("./gen/".length).replace(/\.js$/, ".ts");
      const p = join(genTs, rel);
      if (!existsSync(p)) return { errors: [{ text: `generated file missing: ${p} (run make generate)` }] };
      return { path: p };
    });
  },
};

// Every package comes from console/node_modules (the console's lock), also
// for the files in clients/ts/src: a clients/ts/node_modules left by its own
// tests must change neither the bundle nor its bytes.
const ownPackages = {
  name: "own-packages",
  setup(b) {
    b.onResolve({ filter: /^(@bufbuild\/protobuf|@connectrpc\/connect|@connectrpc\/connect-web|preact)(\/.*)?$/ }, async (args) => {
      if (args.pluginData === "own") return undefined;
      return b.resolve(args.path, { kind: args.kind, resolveDir: here, pluginData: "own" });
    });
  },
};

const result = await build({
  absWorkingDir: root,
  entryPoints: { app: join(here, "src/main.tsx") },
  bundle: true,
  format: "esm",
  target: ["es2020", "chrome100", "firefox100", "safari15"],
  minify: true,
  legalComments: "none",
  charset: "utf8",
  jsx: "automatic",
  jsxImportSource: "preact",
  alias: { "@batonhq/client/web": join(clientSrc, "web.ts") },
  nodePaths: [join(here, "node_modules")],
  plugins: [genRedirect, ownPackages],
  define: { "process.env.NODE_ENV": '"production"' },
  write: false,
  outdir: out,
  entryNames: "[name]",
  logLevel: "warning",
});

const hash = (buf) => createHash("sha256").update(buf).digest("hex").slice(0, 12);
const files = new Map();
for (const f of result.outputFiles) {
  const ext = f.path.endsWith(".css") ? "css" : "js";
  files.set(ext, f.contents);
}
const css = readFileSync(join(here, "src/style.css"));
const js = files.get("js");
const jsName = `app-${hash(js)}.js`;
const cssName = `app-${hash(css)}.css`;
const html = readFileSync(join(here, "src/index.html"), "utf8")
  .replace("%CSS%", `/console/${cssName}`)
  .replace("%JS%", `/console/${jsName}`);

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
writeFileSync(join(out, jsName), js);
writeFileSync(join(out, cssName), css);
writeFileSync(join(out, "index.html"), html);
console.log(`console: ${jsName} (${js.length} bytes), ${cssName} (${css.length} bytes), index.html -> ${out}`);
