import { copyFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/**
 * Builds the webhook portal (Preact, portal/src) into `outDir` (relative to the repository root unless absolute):
 * main.js (one minified ES module bundle, no runtime requests anywhere but its own origin), main.js.map,
 * index.html and styles.css. The API serves that folder at /portal/. Plain file names: index.html refers to
 * /portal/main.js and /portal/styles.css.
 */

const portalDir = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.dirname(portalDir);

export async function buildPortal(outDir = 'dist/portal'): Promise<void> {
  const target = path.resolve(repoRoot, outDir);
  await mkdir(target, { recursive: true });
  await build({
    absWorkingDir: repoRoot,
    entryPoints: [path.join(portalDir, 'src/main.tsx')],
    outfile: path.join(target, 'main.js'),
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: ['chrome109', 'firefox115', 'safari16'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    tsconfig: path.join(portalDir, 'tsconfig.json'),
    sourcemap: 'linked',
    legalComments: 'none',
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'warning',
  });
  await copyFile(path.join(portalDir, 'index.html'), path.join(target, 'index.html'));
  await copyFile(path.join(portalDir, 'src/styles.css'), path.join(target, 'styles.css'));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const outDir = process.argv[2] ?? process.env.HERALD_PORTAL_DIR ?? 'dist/portal';
  const started = Date.now();
  await buildPortal(outDir);
  console.log(`portal built into ${path.relative(process.cwd(), path.resolve(repoRoot, outDir)) || '.'} in ${Date.now() - started} ms`);
}
