/**
 * A bag-of-words baseline: binary logistic regression on word counts (optionally with
 * bigrams), trained by full-batch gradient descent with a small L2 penalty. It is the
 * reference point of the built-in task: whatever a transformer gains above it comes from word
 * order and scope, which a bag of words cannot see. Deterministic (zero initialisation).
 */

export interface BagOfWordsOptions {
  /** 1 = unigrams (a bag of words, default); 2 = unigrams and bigrams. */
  ngram?: 1 | 2;
  /** Gradient-descent steps. Default 500 (enough for the loss to settle on the built-in task). */
  steps?: number;
  /** Step size. Default 0.5. */
  learningRate?: number;
  /** L2 penalty on the weights (not the bias). Default 1e-4. */
  l2?: number;
}

export interface BagOfWordsModel {
  features: Map<string, number>;
  weights: Float64Array;
  bias: number;
  ngram: 1 | 2;
}

/** Lower-cased whitespace words, plus `a_b` bigrams when `ngram` is 2. */
export function bagFeatures(text: string, ngram: 1 | 2 = 1): string[] {
  const words = text.toLowerCase().split(/\s+/).filter((w) => w.length > 0);
  if (ngram === 1) return words;
  const out = [...words];
  for (let i = 0; i + 1 < words.length; i++) out.push(`${words[i]}_${words[i + 1]}`);
  return out;
}

/** Sparse count vectors: per example, feature ids and counts (unknown features dropped). */
function vectorise(texts: readonly string[], features: Map<string, number>, ngram: 1 | 2): Map<number, number>[] {
  return texts.map((t) => {
    const v = new Map<number, number>();
    for (const f of bagFeatures(t, ngram)) {
      const id = features.get(f);
      if (id !== undefined) v.set(id, (v.get(id) ?? 0) + 1);
    }
    return v;
  });
}

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

/** Fit on texts with 0/1 labels. */
export function trainBagOfWords(texts: readonly string[], labels: ArrayLike<number>, options: BagOfWordsOptions = {}): BagOfWordsModel {
  const ngram = options.ngram ?? 1;
  const steps = options.steps ?? 500;
  const lr = options.learningRate ?? 0.5;
  const l2 = options.l2 ?? 1e-4;
  const features = new Map<string, number>();
  for (const t of texts) for (const f of bagFeatures(t, ngram)) if (!features.has(f)) features.set(f, features.size);
  const xs = vectorise(texts, features, ngram);
  const n = xs.length;
  const w = new Float64Array(features.size);
  let b = 0;
  const grad = new Float64Array(features.size);
  for (let step = 0; step < steps; step++) {
    grad.fill(0);
    let gb = 0;
    for (let i = 0; i < n; i++) {
      const x = xs[i] as Map<number, number>;
      let z = b;
      for (const [j, c] of x) z += (w[j] as number) * c;
      const err = sigmoid(z) - (labels[i] as number);
      for (const [j, c] of x) grad[j] = (grad[j] as number) + err * c;
      gb += err;
    }
    for (let j = 0; j < w.length; j++) w[j] = (w[j] as number) - lr * ((grad[j] as number) / n + l2 * (w[j] as number));
    b -= (lr * gb) / n;
  }
  return { features, weights: w, bias: b, ngram };
}

/** Predicted probability of label 1 for each text. */
export function predictBagOfWords(model: BagOfWordsModel, texts: readonly string[]): Float64Array {
  const xs = vectorise(texts, model.features, model.ngram);
  return Float64Array.from(xs, (x) => {
    let z = model.bias;
    for (const [j, c] of x) z += (model.weights[j] as number) * c;
    return sigmoid(z);
  });
}
