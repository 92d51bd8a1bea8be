/** Replacing a model variable by one of another shape, for structural changes (head removal, compaction). */
import * as tf from '@tensorflow/tfjs';

/**
 * Replaces a variable's value with a tensor of possibly different shape, disposing the old one.
 * The new name is the parameter's own with a replacement count (`..._r1`, `..._r2`, ...): names
 * stay short over any number of prune rounds and the same in every run (TF.js needs a name that
 * no live variable holds, and the old one is still alive while the new one is made).
 */
export function replaceVariable(old: tf.Variable, value: tf.Tensor, trainable = old.trainable): tf.Variable {
  const m = /^(.*)_r(\d+)$/.exec(old.name);
  const base = m ? m[1] : old.name;
  let n = m ? Number(m[2]) + 1 : 1;
  const live = tf.engine().registeredVariables;
  while (live[`${base}_r${n}`] !== undefined) n++;
  const next = tf.variable(value, trainable, `${base}_r${n}`);
  old.dispose();
  return next;
}
