/**
 * Per-kernel benchmark of a MiniLM-shaped training step (batch 16 x 128 tokens, d 384, 12 heads,
 * MLP 1536) on the wasm backend: each kernel with TF.js's own kernels ("tfjs"), with the
 * pure-wasm replacements ("wasm") and with the native OpenBLAS kernels ("native"), in one run.
 *
 *   npx tsx bench/kernels.ts [--modes=tfjs,wasm,native] [--only=R_,AdamW] [--quick] [--markdown]
 *
 * The last rows are NeuroPrune's training-only work over all 6 layers: R_mlp and R_attn (value
 * and gradient; JavaScript over `dataSync()` in the tfjs/wasm modes, the addon's kernels in
 * native mode) and one AdamW step over every weight of the model including the word embeddings
 * (TF.js ops in the tfjs/wasm modes, one native pass per parameter in native mode).
 *
 * `NEUROPRUNE_THREADS=1` limits the native products to one thread.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { initBackend } from '../src/backend';
import { installWasmKernels, uninstallWasmKernels, type KernelMode } from '../src/backend/kernels';
import { gelu, layerNorm } from '../src/models/layers';
import { layerNormReference, softmaxLastAxis } from '../src/backend/kernels/fused';
import { attentionGroupFused, preferentialRowL1Fused } from '../src/neuroprune/fusedRegularizers';
import { AdamW } from '../src/train/adamw';

type Mode = 'tfjs' | 'wasm' | 'native';
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const markdown = args.includes('--markdown');
const modesArg = args.find((a) => a.startsWith('--modes='))?.slice(8);
let modes: Mode[] = (modesArg ?? 'tfjs,wasm,native').split(',') as Mode[];

const B = 16, T = 128, D = 384, H = 12, DH = 32, DE = 1536;
const N = B * T;

/** The reference exact GELU as TF.js composes it (erf chain, autodiff gradient). */
function geluErfChain(x: tf.Tensor): tf.Tensor {
  return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));
}

interface Case {
  name: string;
  shape: string;
  flops: number;
  /** Builds inputs once; returns the function to time (it must leave no tensors behind). */
  setup(mode: Mode): { run: () => void; dispose: () => void };
}

function rand(shape: number[]): tf.Tensor {
  return tf.randomNormal(shape, 0, 1, 'float32', 7);
}

function product(name: string, aShape: number[], bShape: number[], ta: boolean, tb: boolean, m: number, n: number, k: number, batch = 1): Case {
  return {
    name, flops: 2 * batch * m * n * k,
    shape: `${aShape.join('x')} ${ta ? 'T' : ''}@ ${bShape.join('x')}${tb ? ' T' : ''}`,
    setup() {
      const a = rand(aShape), b = rand(bShape);
      return { run: () => tf.matMul(a, b, ta, tb).dispose(), dispose: () => { a.dispose(); b.dispose(); } };
    },
  };
}

function gradCase(name: string, shape: number[], flops: number, f: (mode: Mode) => (x: tf.Tensor) => tf.Tensor, withGrad: boolean): Case {
  return {
    name, shape: shape.join('x'), flops,
    setup(mode) {
      const x = rand(shape);
      const dy = rand(shape);
      const fn = f(mode);
      const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(fn(t), dy)));
      return {
        run: () => tf.tidy(() => { (withGrad ? g(x) : fn(x)).dataSync(); }),
        dispose: () => { x.dispose(); dy.dispose(); },
      };
    },
  };
}

// "tfjs" runs the compositions layers.ts used before (TF.js ops, autodiff); the other modes
// run layers.ts as it is now.
const geluFor = (mode: Mode) => (mode === 'tfjs' ? geluErfChain : gelu);
const softmaxFor = (mode: Mode) => (mode === 'tfjs' ? (x: tf.Tensor) => tf.softmax(x, -1) : softmaxLastAxis);
const layerNormFor = (mode: Mode) => (x: tf.Tensor) =>
  (mode === 'tfjs' ? layerNormReference : layerNorm)(x, tf.ones([D]), tf.zeros([D]), 1e-12);
const LAYERS = 6;

/** Value and gradient of a regularizer over `mats` (each a list of matrices of one term). */
function regularizerCase(name: string, shapes: number[][], term: (xs: tf.Tensor[]) => tf.Scalar): Case {
  return {
    name, shape: `${LAYERS} x [${shapes.map((s) => s.join('x')).join(', ')}]`, flops: 0,
    setup() {
      // A third of the entries below R_mlp's eps, so every row has a count.
      const mats = Array.from({ length: LAYERS }, () => shapes.map((s) => tf.tidy(() => {
        const x = rand(s);
        return tf.where(tf.less(tf.abs(x), 0.43), tf.mul(x, 1e-3), x);
      })));
      const all = mats.flat();
      const g = tf.grads((...xs: tf.Tensor[]) => {
        let total: tf.Tensor = tf.scalar(0);
        for (let l = 0; l < LAYERS; l++) total = tf.add(total, term(xs.slice(l * shapes.length, (l + 1) * shapes.length)));
        return total;
      });
      return {
        // wasm runs synchronously: the gradients are computed when g returns.
        run: () => tf.tidy(() => { g(all); }),
        dispose: () => tf.dispose(all),
      };
    },
  };
}

function adamwCase(): Case {
  const shapes = [[30522, D], ...Array.from({ length: LAYERS }, () => [[D, D], [D, D], [D, D], [D, D], [DE, D], [D, DE], [DE], [D]]).flat()];
  const count = shapes.reduce((a, s) => a + s.reduce((p, d) => p * d, 1), 0);
  return {
    name: 'AdamW step', shape: `${(count / 1e6).toFixed(1)}M params`, flops: 0,
    setup() {
      const params = new Map(shapes.map((s, i) => [`p${i}.${s.length === 1 ? 'bias' : 'weight'}`, tf.variable(rand(s).mul(0.02))]));
      const grads = new Map([...params].map(([k, p]) => [k, tf.randomNormal(p.shape, 0, 1e-3, 'float32', 3)]));
      const opt = new AdamW({ weightDecay: 0.01 });
      return {
        run: () => opt.apply(params, grads, 1e-5),
        dispose: () => { opt.dispose(); tf.dispose([...params.values(), ...grads.values()]); },
      };
    },
  };
}

const only = args.find((a) => a.startsWith('--only='))?.slice(7).split(',');
const allCases: Case[] = [
  product('dense fwd x@W^T (d->d)', [N, D], [D, D], false, true, N, D, D),
  product('dense dX dy@W (d->d)', [N, D], [D, D], false, false, N, D, D),
  product('dense dW dy^T@x (d->d)', [N, D], [N, D], true, false, D, D, N),
  product('dense fwd x@W^T (d->4d)', [N, D], [DE, D], false, true, N, DE, D),
  product('dense dX dy@W (4d->d)', [N, DE], [DE, D], false, false, N, D, DE),
  product('dense dW dy^T@x (d->4d)', [N, DE], [N, D], true, false, DE, D, N),
  product('attn scores q@k^T', [B * H, T, DH], [B * H, T, DH], false, true, T, T, DH, B * H),
  product('attn ctx p@v', [B * H, T, T], [B * H, T, DH], false, false, T, DH, T, B * H),
  product('attn dP dctx@v^T', [B * H, T, DH], [B * H, T, DH], false, true, T, T, DH, B * H),
  product('attn dV p^T@dctx', [B * H, T, T], [B * H, T, DH], true, false, T, DH, T, B * H),
  product('attn dQ ds@k', [B * H, T, T], [B * H, T, DH], false, false, T, DH, T, B * H),
  product('attn dK ds^T@q', [B * H, T, T], [B * H, T, DH], true, false, T, DH, T, B * H),
  gradCase('softmax fwd', [B, H, T, T], 0, softmaxFor, false),
  gradCase('softmax fwd+grad', [B, H, T, T], 0, softmaxFor, true),
  gradCase('gelu fwd', [N, DE], 0, geluFor, false),
  gradCase('gelu fwd+grad', [N, DE], 0, geluFor, true),
  gradCase('layerNorm fwd', [N, D], 0, layerNormFor, false),
  gradCase('layerNorm fwd+grad', [N, D], 0, layerNormFor, true),
  regularizerCase('R_mlp value+grad', [[DE, D], [D, DE]], (xs) => tf.addN(xs.map((x) => preferentialRowL1Fused(x, 1e-3))) as tf.Scalar),
  regularizerCase('R_attn value+grad', [[D, D], [D, D], [D, D]], ([q, k, v]) => attentionGroupFused(q, k, v, 1e-8)),
  adamwCase(),
];
const cases = only ? allCases.filter((c) => only.some((o) => c.name.includes(o))) : allCases;

function time(run: () => void): number {
  run(); run();
  const budget = quick ? 150 : 600;
  const samples: number[] = [];
  const start = performance.now();
  while (samples.length < 3 || (performance.now() - start < budget && samples.length < 50)) {
    const t0 = performance.now();
    run();
    samples.push(performance.now() - t0);
  }
  samples.sort((x, y) => x - y);
  return samples[Math.floor(samples.length / 2)];
}

async function main(): Promise<void> {
  await initBackend({ force: 'wasm' });
  const results = new Map<string, Map<Mode, number>>();
  for (const mode of modes) {
    const kernelMode: KernelMode = mode === 'tfjs' ? 'off' : mode;
    let detail: string;
    try {
      detail = installWasmKernels(kernelMode).detail;
    } catch (err) {
      console.error(`skipping ${mode}: ${(err as Error).message}`);
      modes = modes.filter((m) => m !== mode);
      continue;
    }
    console.error(`== ${mode}: ${detail}`);
    for (const c of cases) {
      const { run, dispose } = c.setup(mode);
      const ms = time(run);
      dispose();
      if (!results.has(c.name)) results.set(c.name, new Map());
      results.get(c.name)!.set(mode, ms);
      console.error(`   ${c.name.padEnd(26)} ${ms.toFixed(2)} ms`);
    }
  }
  uninstallWasmKernels();
  printTable(results);
}

function printTable(results: Map<string, Map<Mode, number>>): void {
  const head = ['kernel', 'shape', ...modes.map((m) => `${m} ms (GFLOP/s)`), ...(modes.length > 1 ? [`${modes[0]}/${modes[modes.length - 1]}`] : [])];
  const rows: string[][] = [];
  for (const c of cases) {
    const r = results.get(c.name)!;
    const cells = modes.map((m) => {
      const ms = r.get(m)!;
      return c.flops > 0 ? `${ms.toFixed(2)} (${(c.flops / ms / 1e6).toFixed(1)})` : ms.toFixed(2);
    });
    const first = r.get(modes[0])!, last = r.get(modes[modes.length - 1])!;
    rows.push([c.name, c.shape, ...cells, ...(modes.length > 1 ? [`${(first / last).toFixed(1)}x`] : [])]);
  }
  if (markdown) {
    console.log(`| ${head.join(' | ')} |`);
    console.log(`|${head.map(() => '---').join('|')}|`);
    for (const r of rows) console.log(`| ${r.join(' | ')} |`);
  } else {
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const fmt = (r: string[]) => r.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
    console.log(fmt(head));
    for (const r of rows) console.log(fmt(r));
  }
}

main().catch((err) => { console.error(err); process.exit(1); });
