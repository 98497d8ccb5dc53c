// Writes what Vite would: an asset and a manifest in ../mathesar/static/mathesar/.
import { mkdirSync, writeFileSync } from 'node:fs';

const out = new URL('../mathesar/static/mathesar/', import.meta.url);
mkdirSync(new URL('assets/', out), { recursive: true });
writeFileSync(new URL('assets/main.js', out), 'console.log("fixture");\n');
if (process.argv[2] !== 'no-manifest') {
  writeFileSync(
    new URL('manifest.json', out),
    JSON.stringify({ 'src/main.ts': { file: 'assets/main.js', css: [] } }) + '\n',
  );
}
console.log('fixture build wrote its files');
