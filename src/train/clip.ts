import * as tf from '@tensorflow/tfjs';

/**
 * Scales gradients so that their global l2 norm is at most `maxNorm`, as
 * `torch.nn.utils.clip_grad_norm_` (factor maxNorm / (norm + 1e-6), applied only when < 1).
 * Returns the new gradients (the inputs are disposed when replaced) and the norm before clipping.
 */
export function clipByGlobalNorm(grads: Map<string, tf.Tensor>, maxNorm: number): { grads: Map<string, tf.Tensor>; norm: number } {
  const norm = Math.sqrt(
    tf.tidy(() => tf.addN([...grads.values()].map((g) => tf.sum(tf.square(g)))).dataSync()[0]),
  );
  if (!(maxNorm > 0) || !Number.isFinite(norm) || norm <= maxNorm) return { grads, norm };
  const factor = maxNorm / (norm + 1e-6);
  const out = new Map<string, tf.Tensor>();
  for (const [name, g] of grads) {
    out.set(name, tf.mul(g, factor));
    g.dispose();
  }
  return { grads: out, norm };
}
