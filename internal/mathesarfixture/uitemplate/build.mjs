// Stand-in for Mathesar's Vite build: bundles src/ into content-hashed assets under
// ../mathesar/static/mathesar/ and writes a Vite-style manifest.json. Plain Node with no
// dependencies, so `npm ci && npm run build` works offline. The output depends only on the
// files in src/ (sorted walk, hashes of contents), so it is reproducible.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const root = path.dirname(decodeURIComponent(new URL(import.meta.url).pathname));
const srcDir = path.join(root, 'src');
const outDir = path.resolve(root, '..', 'mathesar', 'static', 'mathesar');
const assetExts = new Set(['.png', '.svg', '.woff2', '.jpg', '.ico']);

function walk(dir) {
  const entries = fs.readdirSync(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const files = [];
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      files.push(...walk(p));
    } else if (e.isFile()) {
      files.push(p);
    }
  }
  return files;
}

function hash(data) {
  return createHash('sha256').update(data).digest('base64url').slice(0, 8);
}

function rel(p) {
  return path.relative(root, p).split(path.sep).join('/');
}

const files = walk(srcDir);
if (!files.some((f) => rel(f) === 'src/main.ts')) {
  console.error('build: src/main.ts is missing; it is the entry point of the bundle');
  process.exit(1);
}

// Vite's emptyOutDir: a stale asset must not survive a rebuild.
fs.rmSync(outDir, { recursive: true, force: true });
fs.mkdirSync(path.join(outDir, 'assets'), { recursive: true });

const manifest = {};
const assetFiles = [];
const assetByPath = new Map();
for (const f of files) {
  const ext = path.extname(f);
  if (!assetExts.has(ext)) continue;
  const data = fs.readFileSync(f);
  const name = `assets/${path.basename(f, ext)}-${hash(data)}${ext}`;
  fs.writeFileSync(path.join(outDir, name), data);
  assetByPath.set(rel(f), name);
  manifest[rel(f)] = { file: name, src: rel(f) };
  assetFiles.push(name);
}

const modules = {};
const styles = [];
for (const f of files) {
  const ext = path.extname(f);
  const text = fs.readFileSync(f, 'utf8');
  if (ext === '.ts' || ext === '.svelte' || ext === '.json') {
    modules[rel(f)] = text;
  }
  if (ext === '.css') {
    styles.push(`/* ${rel(f)} */\n${text}`);
  }
  if (ext === '.svelte') {
    for (const m of text.matchAll(/<style>([\s\S]*?)<\/style>/g)) {
      styles.push(`/* ${rel(f)} */\n${m[1].trim()}\n`);
    }
  }
}

// Rewrite url(../assets/...) references of the stylesheets to the hashed copies, which sit
// next to the bundled stylesheet.
let css = styles.join('\n');
css = css.replace(/url\("(?:\.\.\/)+assets\/([^"]+)"\)/g, (all, p) => {
  const hashed = assetByPath.get(`src/assets/${p}`);
  return hashed ? `url("./${path.basename(hashed)}")` : all;
});
const js = `const modules = ${JSON.stringify(modules)};\nexport default modules;\n`;
const cssName = `assets/index-${hash(css)}.css`;
const jsName = `assets/index-${hash(js)}.js`;
fs.writeFileSync(path.join(outDir, cssName), css);
fs.writeFileSync(path.join(outDir, jsName), js);
manifest['src/main.ts'] = {
  file: jsName,
  name: 'index',
  src: 'src/main.ts',
  isEntry: true,
  css: [cssName],
  assets: assetFiles,
};

const sorted = {};
for (const k of Object.keys(manifest).sort()) sorted[k] = manifest[k];
fs.writeFileSync(path.join(outDir, 'manifest.json'), `${JSON.stringify(sorted, null, 2)}\n`);
console.log(`built ${Object.keys(modules).length} modules, ${assetFiles.length} assets into ${path.relative(root, outDir)}`);
