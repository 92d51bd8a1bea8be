/**
 * The native addon's contract: it says which `native/blas.cc` it was built from (an addon from
 * another version is refused), every entry point rejects sizes that are not non-negative integers
 * and buffers too small for the sizes, and two worker threads can use it at once. When it is not
 * built, `npm install` and the backend report say so loudly.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkNativeAddon, loadNativeBlas, nativeSourceHash, type NativeBlas } from '../../src/backend/kernels';

const root = path.resolve(__dirname, '..', '..');
const source = path.join(root, 'native', 'blas.cc');
const builtAddon = path.join(root, 'native', 'build', 'neuroprune_blas.node');
const native = loadNativeBlas();
const skipped = native.ok ? '' : ` (skipped: ${native.reason})`;

/** Runs TypeScript in a child process (tsx), with extra environment; returns its output. */
function runTs(code: string, env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const file = path.join(os.tmpdir(), `neuroprune-native-${process.pid}-${Math.floor(Math.random() * 1e9)}.ts`);
  fs.writeFileSync(file, code);
  try {
    const r = spawnSync(process.execPath, ['--import', 'tsx', file], {
      cwd: root, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000,
    });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  } finally {
    fs.rmSync(file, { force: true });
  }
}

describe('version stamp', () => {
  it('refuses an addon whose stamp is another or missing, accepts the matching one', () => {
    const fake = (sourceHash?: string) => ({ sourceHash }) as unknown as NativeBlas;
    const expected = nativeSourceHash(source);
    expect(expected).toMatch(/^[0-9a-f]{16}$/);
    const wrong = checkNativeAddon(fake('0123456789abcdef'), '/x/neuroprune_blas.node', expected);
    expect(wrong.ok).toBe(false);
    expect(!wrong.ok && wrong.reason).toMatch(/^native addon \/x\/neuroprune_blas\.node was built from another native\/blas\.cc .*npm run build:native$/);
    for (const stamp of [undefined, 'unknown']) {
      const none = checkNativeAddon(fake(stamp), '/x/neuroprune_blas.node', expected);
      expect(!none.ok && none.reason).toMatch(/carries no source stamp.*npm run build:native/);
    }
    expect(checkNativeAddon(fake(expected), '/x/neuroprune_blas.node', expected).ok).toBe(true);
  });


  it.skipIf(!native.ok)(`the built addon carries the hash of native/blas.cc${skipped}`, () => {
    const expected = createHash('sha256').update(fs.readFileSync(source)).digest('hex').slice(0, 16);
    expect((native as { blas: NativeBlas }).blas.sourceHash).toBe(expected);
  });

  it.skipIf(!native.ok)(`an addon built from another blas.cc is refused with the command that rebuilds it${skipped}`, () => {
    // The addon as it is, next to a blas.cc that has changed since it was built.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'neuroprune-stale-'));
    try {
      fs.mkdirSync(path.join(dir, 'native', 'build'), { recursive: true });
      fs.writeFileSync(path.join(dir, 'native', 'blas.cc'), fs.readFileSync(source, 'utf8') + '\n// changed after the build\n');
      const addon = path.join(dir, 'native', 'build', 'neuroprune_blas.node');
      fs.copyFileSync(builtAddon, addon);
      const r = runTs(
        `import { loadNativeBlas } from ${JSON.stringify(path.join(root, 'src', 'backend', 'kernels', 'native.ts'))};\n` +
        'const l = loadNativeBlas(); console.log(JSON.stringify({ ok: l.ok, reason: l.ok ? undefined : l.reason }));\n',
        { NEUROPRUNE_NATIVE_ADDON: addon, NEUROPRUNE_NATIVE: '' },
      );
      expect(r.status, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
      expect(out.ok).toBe(false);
      expect(out.reason).toContain(addon);
      expect(out.reason).toMatch(/npm run build:native/);
      expect(out.reason).not.toContain('\n');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Each entry point with valid arguments for the sizes given; `sizes` names them in order. */
interface Entry {
  name: string;
  sizes: Record<string, number>;
  call(blas: NativeBlas, s: Record<string, number>, buffers: (n: number) => Float32Array): unknown;
}
const f32 = (n: number) => new Float32Array(Math.max(0, Math.min(n, 1 << 12)));
const entries: Entry[] = [
  { name: 'gemm', sizes: { m: 2, n: 3, k: 4 },
    call: (b, s, buf) => b.gemm(buf(8), buf(12), buf(6), new Int32Array([0]), new Int32Array([0]), s.m, s.n, s.k, false, false, null, 0, 0) },
  { name: 'sumAxis', sizes: { outer: 2, r: 3, inner: 4 }, call: (b, s, buf) => b.sumAxis(buf(24), buf(8), s.outer, s.r, s.inner) },
  { name: 'gelu', sizes: { n: 5 }, call: (b, s, buf) => b.gelu(buf(5), buf(5), s.n) },
  { name: 'geluGrad', sizes: { n: 5 }, call: (b, s, buf) => b.geluGrad(buf(5), buf(5), buf(5), s.n) },
  { name: 'softmax', sizes: { rows: 2, cols: 3 }, call: (b, s, buf) => b.softmax(buf(6), buf(6), s.rows, s.cols) },
  { name: 'softmaxGrad', sizes: { rows: 2, cols: 3 }, call: (b, s, buf) => b.softmaxGrad(buf(6), buf(6), buf(6), s.rows, s.cols) },
  { name: 'layerNorm', sizes: { rows: 2, cols: 3 },
    call: (b, s, buf) => b.layerNorm(buf(6), buf(3), buf(3), buf(6), buf(2), buf(2), s.rows, s.cols, 1e-5) },
  { name: 'layerNormGrad', sizes: { rows: 2, cols: 3 },
    call: (b, s, buf) => b.layerNormGrad(buf(6), buf(6), buf(2), buf(2), buf(3), buf(6), buf(3), buf(3), s.rows, s.cols) },
  { name: 'regMlp', sizes: { rows: 2, cols: 3 }, call: (b, s, buf) => b.regMlp!(buf(6), buf(6), s.rows, s.cols, 1e-4, 1) },
  { name: 'regAttn', sizes: { rowsQ: 2, rowsK: 2, rowsV: 2, cols: 3 },
    call: (b, s, buf) => b.regAttn!(buf(6), buf(6), buf(6), buf(6), buf(6), buf(6), s.rowsQ, s.rowsK, s.rowsV, s.cols, 1e-8, 1) },
  { name: 'adamw', sizes: { n: 5 }, call: (b, s, buf) => b.adamw!(buf(5), buf(5), buf(5), buf(5), s.n, 1e-3, 0.9, 0.999, 1e-8, 0, 1) },
];

describe('sizes', () => {
  const bad: [string, number][] = [['negative', -1], ['non-integer', 2.5], ['NaN', NaN], ['infinite', Infinity], ['above 2^53', 2 ** 60]];
  for (const e of entries) {
    it.skipIf(!native.ok)(`${e.name} accepts its valid sizes and throws on bad ones and on buffers too small${skipped}`, () => {
      const blas = (native as { blas: NativeBlas }).blas;
      expect(() => e.call(blas, e.sizes, f32)).not.toThrow();
      for (const key of Object.keys(e.sizes)) {
        for (const [what, value] of bad) {
          expect(() => e.call(blas, { ...e.sizes, [key]: value }, f32), `${key} ${what}`).toThrow(new RegExp(`${e.name}.*${key}`));
        }
        // One more than the buffers hold.
        expect(() => e.call(blas, { ...e.sizes, [key]: e.sizes[key] + 1 }, f32), `${key} + 1`).toThrow(new RegExp(e.name));
        // Sizes whose product wraps around 2^64 must not pass the length checks.
        if (Object.keys(e.sizes).length > 1) {
          const huge = Object.fromEntries(Object.keys(e.sizes).map((k) => [k, 2 ** 32]));
          expect(() => e.call(blas, huge, f32), 'product overflow').toThrow(new RegExp(e.name));
        }
      }
    });
  }

  it.skipIf(!native.ok)(`setThreads takes a non-negative integer${skipped}`, () => {
    const blas = (native as { blas: NativeBlas }).blas;
    const threads = blas.info().threads;
    try {
      for (const v of [-1, 1.5, NaN]) expect(() => blas.setThreads(v), String(v)).toThrow(/setThreads/);
      expect(blas.setThreads(1)).toBe(1);
    } finally {
      blas.setThreads(threads);
    }
  });
});

describe('thread pool', () => {
  it.skipIf(!native.ok)(`two worker threads multiplying at once both get the right products${skipped}`, () => {
    // In a child process: a crash there fails this test instead of the test runner.
    const script = `
      const { Worker } = require('node:worker_threads');
      const code = \`
        const { parentPort, workerData } = require('node:worker_threads');
        const mod = { exports: {} };
        process.dlopen(mod, workerData.addon);
        const blas = mod.exports;
        blas.setThreads(2);
        const m = 160, n = 96, k = 128;
        let s = workerData.seed;
        const rand = () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 31 - 1; };
        const a = Float32Array.from({ length: m * k }, rand), b = Float32Array.from({ length: k * n }, rand);
        const ref = new Float64Array(m * n);
        for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) { let t = 0; for (let p = 0; p < k; p++) t += a[i * k + p] * b[p * n + j]; ref[i * n + j] = t; }
        const w = Float32Array.from({ length: 256 * 400 }, rand);
        let refMlp;
        let worst = 0, mlpWrong = 0;
        for (let rep = 0; rep < 150; rep++) {
          const c = new Float32Array(m * n);
          blas.gemm(a, b, c, new Int32Array([0]), new Int32Array([0]), m, n, k, false, false, null, 0, 0);
          for (let i = 0; i < c.length; i++) worst = Math.max(worst, Math.abs(c[i] - ref[i]));
          const g = new Float32Array(w.length);
          const v = blas.regMlp(w, g, 256, 400, 0.5, 1);
          if (refMlp === undefined) refMlp = v; else if (v !== refMlp) mlpWrong++;
        }
        parentPort.postMessage({ worst, mlpWrong });
      \`;
      const addon = process.argv[1];
      const runs = [1, 2].map((seed) => new Promise((resolve, reject) => {
        const w = new Worker(code, { eval: true, workerData: { addon, seed } });
        w.on('message', resolve);
        w.on('error', reject);
      }));
      Promise.all(runs).then((r) => { console.log(JSON.stringify(r)); process.exit(0); }, (e) => { console.error(e); process.exit(1); });
    `;
    const r = spawnSync(process.execPath, ['-e', script, (native as { file: string }).file], { encoding: 'utf8', timeout: 240_000 });
    expect(r.status, `signal ${r.signal}: ${r.stderr}`).toBe(0);
    const results = JSON.parse(r.stdout.trim()) as { worst: number; mlpWrong: number }[];
    expect(results).toHaveLength(2);
    for (const x of results) {
      expect(x.worst).toBeLessThan(1e-3);
      expect(x.mlpWrong).toBe(0);
    }
  });
});

describe('when the native kernels are not built', () => {
  it('npm install prints a warning that stands out, with what it costs and the command that builds them', () => {
    // A compiler that fails: the build must still exit 0 (the install goes on) and say so loudly.
    const r = spawnSync(process.execPath, [path.join(root, 'native', 'build.js')], {
      encoding: 'utf8', env: { ...process.env, CXX: 'false', NEUROPRUNE_NATIVE: '' }, timeout: 120_000,
    });
    expect(r.status).toBe(0);
    const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
    expect(lines.length).toBeGreaterThanOrEqual(5);
    expect(lines[0]).toMatch(/^!{20,}$/);
    expect(r.stderr).toMatch(/WARNING: the native OpenBLAS kernels of neuroprune were NOT built/);
    expect(r.stderr).toMatch(/16-30x slower/);
    expect(r.stderr).toMatch(/npm run build:native/);
    // The existing build is left as it was.
    if (native.ok) expect(fs.existsSync(builtAddon)).toBe(true);
  });

  it('initBackend repeats the warning in its report lines', () => {
    const r = runTs(
      `import { describeBackend, initBackend } from ${JSON.stringify(path.join(root, 'src', 'backend', 'index.ts'))};\n` +
      "initBackend({ force: 'wasm' }).then((rep) => console.log(JSON.stringify(describeBackend(rep))));\n",
      { NEUROPRUNE_NATIVE_ADDON: path.join(os.tmpdir(), 'no-such-dir', 'neuroprune_blas.node'), NEUROPRUNE_NATIVE: '', NEUROPRUNE_KERNELS: '' },
    );
    expect(r.status, r.stderr).toBe(0);
    const lines = JSON.parse(r.stdout.trim().split('\n').pop()!) as string[];
    expect(lines[0]).toMatch(/^backend: wasm \(\+ transpose-first wasm matmul/);
    expect(lines[1]).toMatch(/^backend: WARNING: native OpenBLAS kernels not in use \(native addon not built.*16-30x slower.*npm run build:native$/);
  });

  it('says nothing more when they are switched off on purpose', () => {
    const r = runTs(
      `import { describeBackend, initBackend } from ${JSON.stringify(path.join(root, 'src', 'backend', 'index.ts'))};\n` +
      "initBackend({ force: 'wasm' }).then((rep) => console.log(JSON.stringify(describeBackend(rep))));\n",
      { NEUROPRUNE_NATIVE: '0', NEUROPRUNE_KERNELS: '' },
    );
    expect(r.status, r.stderr).toBe(0);
    const lines = JSON.parse(r.stdout.trim().split('\n').pop()!) as string[];
    expect(lines[0]).toMatch(/^backend: wasm \(\+ transpose-first wasm matmul \(disabled by NEUROPRUNE_NATIVE\)/);
    expect(lines.some((l) => l.includes('WARNING'))).toBe(false);
  });
});
