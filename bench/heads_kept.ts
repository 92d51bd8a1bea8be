/**
 * Heads kept by Algorithm 3 (FIND_DOMINATING) against an exact minimum dominating set.
 *
 * Part 1: random similarity graphs (Erdos-Renyi, edge probability p) with 12, 16 and 24 heads.
 * Part 2: the attention layers of a BERT checkpoint directory, at thetas set to quantiles of each
 * layer's pairwise head distances (pass `--checkpoint=DIR`; default: the test fixture
 * `test/fixtures/tiny-bert`, whose weights are random, not trained).
 *
 *   npx tsx bench/heads_kept.ts [--graphs=300] [--checkpoint=DIR]
 */
import { mulberry32 } from '../src/util/random';
import * as path from 'node:path';
import { initBackend } from '../src/backend';
import { loadBertCheckpoint } from '../src/checkpoint';
import { findDominating, headDistances, similarityFromDistances, type SimilarityMatrix } from '../src/neuroprune';

const args = process.argv.slice(2);
const graphs = Number(args.find((a) => a.startsWith('--graphs='))?.slice(9) ?? 300);
const checkpoint = args.find((a) => a.startsWith('--checkpoint='))?.slice(13) ?? path.join(__dirname, '..', 'test', 'fixtures', 'tiny-bert');

function rng(seed: number): () => number {
  const r = mulberry32(seed);
  return () => r.next();
}

function randomGraph(k: number, p: number, r: () => number): SimilarityMatrix {
  const s = Array.from({ length: k }, (_, a) => Array.from({ length: k }, (_, b) => a === b));
  for (let a = 0; a < k; a++) for (let b = a + 1; b < k; b++) if (r() < p) s[a][b] = s[b][a] = true;
  return s;
}

async function main(): Promise<void> {
  await initBackend({ force: 'cpu' });
  console.log(`## Heads kept: Algorithm 3 vs exact minimum dominating set\n`);
  console.log(`Random similarity graphs, ${graphs} per row (mean heads kept; "fewer" = graphs where exact keeps fewer heads; exact search time per graph).\n`);
  console.log('| heads | p | Algorithm 3 | exact | fewer | max gap | exact ms/graph |');
  console.log('|---:|---:|---:|---:|---:|---:|---:|');
  const r = rng(2024);
  for (const k of [12, 16, 24]) {
    for (const p of [0.05, 0.1, 0.2, 0.3, 0.5, 0.7]) {
      let paper = 0, exact = 0, fewer = 0, gap = 0, ms = 0;
      for (let g = 0; g < graphs; g++) {
        const s = randomGraph(k, p, r);
        const a = findDominating(s, 'paper').kept.length;
        const t0 = performance.now();
        const e = findDominating(s, 'exact').kept.length;
        ms += performance.now() - t0;
        paper += a; exact += e;
        if (e < a) fewer++;
        gap = Math.max(gap, a - e);
      }
      console.log(`| ${k} | ${p} | ${(paper / graphs).toFixed(2)} | ${(exact / graphs).toFixed(2)} | ${((100 * fewer) / graphs).toFixed(0)}% | ${gap} | ${(ms / graphs).toFixed(2)} |`);
    }
  }

  // Similarity graphs of real heads come from a metric (l-infinity between weight slices), so they
  // are threshold graphs of points, not Erdos-Renyi graphs: the same comparison on random points.
  console.log(`\nGeometric graphs: each head a random point in [0,1]^8 (clustered: 3 centres, spread 0.15), similar when the l-infinity distance is <= theta; ${graphs} per row.\n`);
  console.log('| heads | theta | Algorithm 3 | exact | fewer | max gap |');
  console.log('|---:|---:|---:|---:|---:|---:|');
  for (const k of [12, 24]) {
    for (const theta of [0.1, 0.2, 0.3, 0.4, 0.5]) {
      let paper = 0, exact = 0, fewer = 0, gap = 0;
      for (let g = 0; g < graphs; g++) {
        const centres = Array.from({ length: 3 }, () => Array.from({ length: 8 }, () => r()));
        const pts = Array.from({ length: k }, () => {
          const c = centres[Math.floor(r() * 3)];
          return c.map((v) => v + (r() - 0.5) * 0.3);
        });
        const d = pts.map((a) => pts.map((b) => Math.max(...a.map((v, i) => Math.abs(v - b[i])))));
        const s = similarityFromDistances(d, theta);
        const a = findDominating(s, 'paper').kept.length;
        const e = findDominating(s, 'exact').kept.length;
        paper += a; exact += e;
        if (e < a) fewer++;
        gap = Math.max(gap, a - e);
      }
      console.log(`| ${k} | ${theta} | ${(paper / graphs).toFixed(2)} | ${(exact / graphs).toFixed(2)} | ${((100 * fewer) / graphs).toFixed(0)}% | ${gap} |`);
    }
  }

  const { model } = loadBertCheckpoint(checkpoint);
  console.log(`\nLayers of \`${path.relative(process.cwd(), checkpoint)}\` (${model.config.num_hidden_layers} layers x ${model.config.num_attention_heads} heads), theta at quantiles q of each layer's pairwise head distances; heads kept summed over layers.\n`);
  console.log('| q | Algorithm 3 | exact |');
  console.log('|---:|---:|---:|');
  const dists = model.attentionBlocks().map((b) => headDistances(b));
  for (const q of [0.1, 0.25, 0.5, 0.75, 0.9]) {
    let paper = 0, exact = 0;
    for (const d of dists) {
      const pairs = d.flatMap((row, a) => row.slice(a + 1)).sort((x, y) => x - y);
      const theta = pairs[Math.min(pairs.length - 1, Math.floor(q * pairs.length))];
      const s = similarityFromDistances(d, theta);
      paper += findDominating(s, 'paper').kept.length;
      exact += findDominating(s, 'exact').kept.length;
    }
    console.log(`| ${q} | ${paper} | ${exact} |`);
  }
  model.dispose();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
