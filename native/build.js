#!/usr/bin/env node
// Builds native/build/neuroprune_blas.node (OpenBLAS sgemm for the wasm backend) at install time.
//
// Never fails the install: the addon is an accelerator, and without it the toolkit runs on the
// pure-wasm kernels. On any failure it prints a boxed warning (to stderr) saying why, what it
// costs and how to fix it, and exits 0; `initBackend` repeats the warning in its report.
//
// The addon carries the hash of the blas.cc it was built from (NEUROPRUNE_SOURCE_HASH); the
// loader (src/backend/kernels/native.ts) refuses an addon whose hash is not the shipped file's.
// Compiles with the C++ compiler directly (no node-gyp, no network): N-API headers come from the
// Node installation, cblas.h and libopenblas from the system (Debian: libopenblas-dev).
'use strict';
const { execFileSync, spawnSync } = require('node:child_process');
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const here = __dirname;
const outDir = path.join(here, 'build');
const out = path.join(outDir, 'neuroprune_blas.node');

/** The stamp of a blas.cc: the first 16 hex digits of its SHA-256 (same as native.ts). */
function sourceHash(file) {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex').slice(0, 16);
}

function skip(reason, deliberate = false) {
  if (deliberate) {
    console.error(`neuroprune: native OpenBLAS kernels not built (${reason})`);
    process.exit(0);
  }
  // npm shows an install script's output among many lines: this must stand out.
  const lines = [
    'WARNING: the native OpenBLAS kernels of neuroprune were NOT built.',
    `Reason: ${reason}`,
    'Training on the wasm backend falls back to the pure-wasm kernels: about 16-30x slower',
    'per training step (BENCHMARKS.md). To build them: apt-get install build-essential',
    'libopenblas-dev (or your system\'s C++ compiler and OpenBLAS), then: npm run build:native',
  ];
  // Wrapped at 88 columns (a compiler's message can be long).
  const wrapped = lines.flatMap((l) => l.match(/.{1,88}(\s|$)|\S+/g).map((p) => p.trimEnd()));
  const width = Math.max(...wrapped.map((l) => l.length));
  const bar = '!'.repeat(width + 4);
  console.error(['', bar, ...wrapped.map((l) => `! ${l.padEnd(width)} !`), bar, ''].join('\n'));
  process.exit(0);
}

function firstExisting(candidates, file) {
  return candidates.find((dir) => dir && fs.existsSync(path.join(dir, file)));
}

function main() {
  const flag = (process.env.NEUROPRUNE_NATIVE || '').toLowerCase();
  if (flag === '0' || flag === 'off' || flag === 'false') skip('NEUROPRUNE_NATIVE=' + flag, true);
  if (process.platform !== 'linux' && process.platform !== 'darwin') skip(`platform ${process.platform}`);

  const nodeInclude = firstExisting([
    process.env.NODE_API_INCLUDE,
    path.join(path.dirname(process.execPath), '..', 'include', 'node'),
    '/usr/include/node',
    '/usr/local/include/node',
  ], 'node_api.h');
  if (!nodeInclude) skip('node_api.h not found; set NODE_API_INCLUDE');

  // OpenBLAS: pkg-config first, then Debian/Ubuntu/Fedora/Homebrew locations.
  let cflags = [];
  let libs = [];
  const pc = spawnSync('pkg-config', ['--cflags', '--libs', 'openblas'], { encoding: 'utf8' });
  if (pc.status === 0 && pc.stdout.trim()) {
    const parts = pc.stdout.trim().split(/\s+/);
    cflags = parts.filter((p) => p.startsWith('-I'));
    libs = parts.filter((p) => !p.startsWith('-I'));
  }
  const arch = process.arch === 'arm64' ? 'aarch64-linux-gnu' : 'x86_64-linux-gnu';
  if (!cflags.some((f) => fs.existsSync(path.join(f.slice(2), 'cblas.h')))) {
    const inc = firstExisting([
      `/usr/include/${arch}/openblas-pthread`, `/usr/include/${arch}/openblas-openmp`, '/usr/include/openblas',
      '/opt/homebrew/opt/openblas/include', '/usr/local/opt/openblas/include', '/usr/include',
    ], 'cblas.h');
    if (!inc) skip('cblas.h not found: install libopenblas-dev');
    cflags.push('-I' + inc);
  }
  if (libs.length === 0) {
    const libDir = firstExisting([
      `/usr/lib/${arch}/openblas-pthread`, `/usr/lib/${arch}/openblas-openmp`, `/usr/lib/${arch}`, '/usr/lib64',
      '/opt/homebrew/opt/openblas/lib', '/usr/local/opt/openblas/lib', '/usr/lib',
    ], process.platform === 'darwin' ? 'libopenblas.dylib' : 'libopenblas.so');
    if (!libDir) skip('libopenblas not found: install libopenblas-dev');
    libs = ['-L' + libDir, '-Wl,-rpath,' + libDir, '-lopenblas'];
  }

  const cxx = process.env.CXX || 'g++';
  // Compile with -ffast-math (glibc then supplies vectorised expf/erff) but link without it:
  // linking with it would pull in crtfastmath.o, which turns on flush-to-zero for the whole
  // Node process when the addon loads.
  const obj = path.join(outDir, 'blas.o');
  const source = path.join(here, 'blas.cc');
  const stamp = sourceHash(source);
  const compile = [
    '-O3', '-ffast-math', '-std=c++17', '-fPIC', '-pthread', '-DNODE_GYP_MODULE_NAME=neuroprune_blas',
    `-DNEUROPRUNE_SOURCE_HASH="${stamp}"`,
    '-I' + nodeInclude, ...cflags, '-c', source, '-o', obj,
  ];
  const link = ['-shared', '-pthread', obj, '-o', out + '.tmp', ...libs];
  if (process.platform === 'darwin') link.push('-undefined', 'dynamic_lookup');
  fs.mkdirSync(outDir, { recursive: true });
  try {
    execFileSync(cxx, compile, { stdio: ['ignore', 'pipe', 'pipe'] });
    execFileSync(cxx, link, { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const msg = String((err.stderr && err.stderr.toString()) || err.message).split('\n').find((l) => /error/i.test(l)) || err.message;
    skip(`${cxx} failed: ${msg.trim().slice(0, 200)}`);
  } finally {
    fs.rmSync(obj, { force: true });
  }

  // Load and multiply once in a child process before putting the addon where the loader looks:
  // a build that links but cannot load must not replace the wasm kernels.
  const probe = `const m={exports:{}};process.dlopen(m,${JSON.stringify(out + '.tmp')});` +
    'const a=new Float32Array([1,2,3,4]),b=new Float32Array([5,6,7,8]),c=new Float32Array(4);' +
    'm.exports.gemm(a,b,c,new Int32Array([0]),new Int32Array([0]),2,2,2,false,false,null,0,0);' +
    'if(c.join()!=="19,22,43,50")throw new Error("wrong product "+c.join());' +
    `if(m.exports.sourceHash!==${JSON.stringify(stamp)})throw new Error("stamp "+m.exports.sourceHash+", expected ${stamp}");` +
    'console.log(m.exports.info().blas)';
  const check = spawnSync(process.execPath, ['-e', probe], { encoding: 'utf8' });
  if (check.status !== 0) {
    fs.rmSync(out + '.tmp', { force: true });
    skip('built but did not load: ' + ((check.stderr || '').split('\n').find((l) => l.trim()) || 'unknown'));
  }
  fs.renameSync(out + '.tmp', out);
  console.log(`neuroprune: native OpenBLAS kernels built (${check.stdout.trim()}; blas.cc ${stamp})`);
}

try {
  main();
} catch (err) {
  skip(String(err && err.message ? err.message : err).split('\n')[0]);
}
