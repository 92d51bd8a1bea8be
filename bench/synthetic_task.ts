/**
 * The built-in task's bag-of-words baseline (issue 3): logistic regression on word counts,
 * trained on data/negation/train.tsv, accuracy on dev.tsv. Also prints the unigram+bigram
 * variant and the majority-class rate, for scale.
 *
 *   npx tsx bench/synthetic_task.ts
 *
 * The small BERT trained from scratch on the same files is `neuroprune train` (BENCHMARKS.md).
 */
import { accuracy, loadNegationTask, predictBagOfWords, trainBagOfWords } from '../src/data';

const train = loadNegationTask('train');
const dev = loadNegationTask('dev');
const yTrain = train.map((e) => e.label);
const yDev = dev.map((e) => e.label);

const majority = Math.max(yDev.filter((y) => y === 1).length, yDev.filter((y) => y === 0).length) / yDev.length;
console.log(`negation task: ${train.length} train, ${dev.length} dev; majority class on dev ${(100 * majority).toFixed(1)}%`);

for (const ngram of [1, 2] as const) {
  const t0 = performance.now();
  const model = trainBagOfWords(train.map((e) => e.textA), yTrain, { ngram });
  const acc = (xs: typeof train, ys: number[]): number =>
    accuracy(ys, Array.from(predictBagOfWords(model, xs.map((e) => e.textA)), (p) => (p >= 0.5 ? 1 : 0)));
  const name = ngram === 1 ? 'bag of words (unigram counts)' : 'bag of unigrams + bigrams';
  console.log(
    `${name}: train ${(100 * acc(train, yTrain)).toFixed(1)}%, dev ${(100 * acc(dev, yDev)).toFixed(1)}%` +
      ` (${model.features.size} features, ${((performance.now() - t0) / 1000).toFixed(1)} s)`,
  );
}
