/**
 * Dev evaluation batched in file order against length-sorted batches (what taskData builds), on a
 * real model and GLUE dev set: padded tokens and seconds of each. bench/eval_bucketing.py does the
 * same with PyTorch under inference_mode, for the per-token comparison.
 *
 *   model=$(scripts/get_minilm.sh); npx tsx bench/eval_bucketing.ts "$model" ../shared/data/glue sst2
 */
import { initBackend } from '../src/backend';
import { loadBertCheckpoint } from '../src/checkpoint';
import { loadTokenizer, makeBatches } from '../src/data';
import { BertTaskModel } from '../src/train/bertTask';
import { glueTask, predictInOrder, taskData } from '../src/train/taskData';

async function main() {
  await initBackend();
  const [dir, glue, name] = process.argv.slice(2);
  const task = glueTask(glue, name as never, loadTokenizer(dir), 128);
  const model = new BertTaskModel(loadBertCheckpoint(dir, { numLabels: 2, initMissingHead: true, seed: 1 }).model);
  const bs = 64;
  const sorted = taskData(task, { batchSize: bs, seed: 0, padId: 0 }).devBatches();
  const plain = makeBatches(task.dev, { batchSize: bs, shuffle: false, sortByLength: false, padId: 0 });
  const tokens = task.dev.reduce((n, e) => n + e.inputIds.length, 0);
  const padded = (b: typeof plain) => b.reduce((n, x) => n + x.size * x.seqLen, 0);
  console.log(`dev ${task.dev.length} examples, ${tokens} tokens; padded: plain ${padded(plain)}, sorted ${padded(sorted)}`);
  for (let rep = 0; rep < 2; rep++) {
    for (const [name, b] of [['plain', plain], ['sorted', sorted]] as const) {
      const t0 = performance.now();
      predictInOrder(model, b);
      const s = (performance.now() - t0) / 1000;
      console.log(`${name}: ${s.toFixed(2)} s, ${(tokens / s).toFixed(0)} tokens/s`);
    }
  }
}
main();
