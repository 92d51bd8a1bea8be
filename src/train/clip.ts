import * as tf from '@tensorflow/tfjs';

/**
 * What the global-norm clip applies to.
 *
 * - `task` (default): only the task loss's gradient is clipped; the penalties' gradient is added
 *   afterwards, unclipped. Clipping guards against an exploding task gradient; the penalties'
 *   gradient is bounded by construction (beta per entry for R_mlp, alpha / (2 sqrt(delta)) per
 *   entry for R_attn) and its scale is exactly what alpha and beta choose. Clipped together, a
 *   handful of nearly dead R_attn groups (slope up to 5e3 * alpha per entry) make the global norm
 *   large and shrink the task gradient of every parameter by a factor that changes from step to
 *   step, so the effective learning rate of the task falls as the model gets sparser.
 * - `total`: the gradient of task loss + penalties is clipped as one, as a Hugging Face `Trainer`
 *   whose `compute_loss` adds the penalty does. Kept for comparison (BENCHMARKS.md).
 */
export type ClipScope = 'task' | 'total';
export const CLIP_SCOPES: readonly ClipScope[] = ['task', 'total'];

/**
 * The global l2 norm of a set of gradients (NaN or Infinity when any entry is not finite).
 * `mul(g, g)` rather than `square(g)`: the native backend runs Mul (and Sum) in the addon, Square
 * in JavaScript.
 */
export function globalNorm(grads: Iterable<tf.Tensor>): number {
  const list = [...grads];
  if (list.length === 0) return 0;
  return Math.sqrt(tf.tidy(() => squaredGlobalNorm(list)).dataSync()[0]);
}

/**
 * The squared global norm as a scalar tensor, for a caller that reads it together with other
 * scalars (one GPU-to-CPU read instead of several); `Math.sqrt` of its value is `globalNorm`.
 */
export function squaredGlobalNorm(grads: Iterable<tf.Tensor>): tf.Scalar {
  const list = [...grads];
  if (list.length === 0) return tf.scalar(0);
  return tf.tidy(() => tf.addN(list.map((g) => tf.sum(tf.mul(g, g))))) as tf.Scalar;
}

/**
 * Scales gradients so that their global l2 norm is at most `maxNorm`, as
 * `torch.nn.utils.clip_grad_norm_` (factor maxNorm / (norm + 1e-6), applied only when < 1).
 * Returns the new gradients (the inputs are disposed when replaced) and the norm before clipping;
 * pass `norm` when it is already known, to save a pass over the gradients.
 */
export function clipByGlobalNorm(
  grads: Map<string, tf.Tensor>, maxNorm: number, norm = globalNorm(grads.values()),
): { grads: Map<string, tf.Tensor>; norm: number } {
  if (!(maxNorm > 0) || !Number.isFinite(norm) || norm <= maxNorm) return { grads, norm };
  const factor = maxNorm / (norm + 1e-6);
  const out = new Map<string, tf.Tensor>();
  for (const [name, g] of grads) {
    out.set(name, tf.mul(g, factor));
    g.dispose();
  }
  return { grads: out, norm };
}

/** Adds `b` into `a` by name; both inputs are consumed (disposed or moved into the result). */
function addInto(a: Map<string, tf.Tensor>, b: Map<string, tf.Tensor>): Map<string, tf.Tensor> {
  const out = new Map(a);
  for (const [name, g] of b) {
    const prev = out.get(name);
    if (prev) {
      out.set(name, tf.add(prev, g));
      prev.dispose();
      g.dispose();
    } else {
      out.set(name, g);
    }
  }
  return out;
}

export interface CombinedGradients {
  /** The gradient to apply (task + penalties, clipped as `scope` says). Owned by the caller. */
  grads: Map<string, tf.Tensor>;
  /** l2 norm of the task gradient before clipping. */
  taskNorm: number;
  /** l2 norm that was compared with maxNorm: the task's (`task`) or the sum's (`total`). */
  clippedNorm: number;
}

/**
 * Combines the task loss's gradient and the penalties' gradient into the one the optimizer
 * applies, clipping as `scope` says (see `ClipScope`). Both input maps are consumed. When a norm
 * is not finite, nothing is scaled and the caller must not apply the result. Pass `taskNorm` when
 * it is already known.
 *
 * The penalties' gradient gets no norm of its own under `task`: it is finite whenever the weights
 * and the penalty's value are (the trainer checks the value), and a norm would cost a pass over
 * the regularized weights' gradients on every step.
 */
export function combineGradients(
  task: Map<string, tf.Tensor>, penalty: Map<string, tf.Tensor>, maxNorm: number, scope: ClipScope,
  taskNorm = globalNorm(task.values()),
): CombinedGradients {
  if (scope === 'task') {
    const clipped = clipByGlobalNorm(task, maxNorm, taskNorm);
    return { grads: addInto(clipped.grads, penalty), taskNorm, clippedNorm: taskNorm };
  }
  const clipped = clipByGlobalNorm(addInto(task, penalty), maxNorm);
  return { grads: clipped.grads, taskNorm, clippedNorm: clipped.norm };
}
