/**
 * The forward ops of a training step, with gradients that keep only what their backward pass reads.
 *
 * TF.js saves tensors for the backward pass by kernel, not by need: `Add` saves both inputs
 * (its gradient reads only their shapes), `Mul` by a constant saves the tensor it scales, and
 * `fused.matMul` saves its output even without an activation. In a BERT layer that is 12 of 37
 * floats kept per token and unit of width: the attention scores before the mask (as large as
 * the probabilities), the products' outputs, the dropped sublayer outputs. These versions save
 * the same tensors PyTorch's autograd saves for the same ops (test/models/lean.test.ts checks the
 * values and gradients against the plain ops, and what each one saves).
 */
import * as tf from '@tensorflow/tfjs';
import { dropout } from '../backend/kernels/dropout';

type GradFunc = (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor | tf.Tensor[];

/** `tf.customGrad` with the arity written out (its own typing takes a rest parameter). */
function custom<F extends (...xs: tf.Tensor[]) => tf.Tensor>(f: (...args: never[]) => { value: tf.Tensor; gradFunc: GradFunc }): F {
  return tf.customGrad(f as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as F;
}

/** The gradient of a broadcast operand: `dy` summed over the axes it was broadcast along. */
function unbroadcast(dy: tf.Tensor, shape: number[]): tf.Tensor {
  const axes = tf.backend_util.getReductionAxes(shape, dy.shape);
  const reduced = axes.length > 0 ? tf.sum(dy, axes) : dy;
  return reduced.reshape(shape);
}

/** `a + b` with broadcasting; saves nothing (the gradient needs only the shapes). */
export function add(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const aShape = a.shape, bShape = b.shape;
  return custom<(a: tf.Tensor, b: tf.Tensor) => tf.Tensor>((x: tf.Tensor, y: tf.Tensor) => ({
    value: tf.add(x, y),
    gradFunc: (dy: tf.Tensor) => [unbroadcast(dy, aShape), unbroadcast(dy, bShape)],
  }))(a, b);
}

/**
 * `x + c` for a tensor that is not trained (an attention mask): saves nothing and gives `c` no
 * gradient, so nothing of the sum is kept for the backward pass.
 */
export function addConstant(x: tf.Tensor, c: tf.Tensor): tf.Tensor {
  return custom<(x: tf.Tensor) => tf.Tensor>((xx: tf.Tensor) => ({
    value: tf.add(xx, c),
    gradFunc: (dy: tf.Tensor) => unbroadcast(dy, xx.shape),
  }))(x);
}

/** `x` reshaped; saves nothing (TF.js's `Reshape` keeps its input alive only to read its shape). */
export function reshape(x: tf.Tensor, shape: number[]): tf.Tensor {
  const from = x.shape;
  return custom<(x: tf.Tensor) => tf.Tensor>((xx: tf.Tensor) => ({
    value: tf.reshape(xx, shape),
    gradFunc: (dy: tf.Tensor) => tf.reshape(dy, from),
  }))(x);
}

/** `x * s` for a number `s`; saves nothing. */
export function scale(x: tf.Tensor, s: number): tf.Tensor {
  return custom<(x: tf.Tensor) => tf.Tensor>((xx: tf.Tensor) => ({
    value: tf.mul(xx, s),
    gradFunc: (dy: tf.Tensor) => tf.mul(dy, s),
  }))(x);
}

/**
 * `x @ w^T (+ bias)` for `x` `[N, in]`, `w` `[out, in]`: saves `x` and `w` (not the output, which
 * `tf.fused.matMul` keeps for an activation's gradient even when there is none). The bias is added
 * in the product's epilogue; its gradient is the column sum of `dy`.
 */
export function linear2d(x: tf.Tensor2D, w: tf.Tensor2D, bias?: tf.Tensor): tf.Tensor2D {
  const grads = (dy: tf.Tensor, [xs, ws]: tf.Tensor[]) => [
    tf.matMul(dy as tf.Tensor2D, ws as tf.Tensor2D),
    tf.matMul(dy as tf.Tensor2D, xs as tf.Tensor2D, true, false),
  ];
  if (bias === undefined) {
    return custom<(x: tf.Tensor, w: tf.Tensor) => tf.Tensor>((xx: tf.Tensor2D, ww: tf.Tensor2D, save: tf.GradSaveFunc) => {
      save([xx, ww]);
      return { value: tf.matMul(xx, ww, false, true), gradFunc: grads };
    })(x, w) as tf.Tensor2D;
  }
  return custom<(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.Tensor>((xx: tf.Tensor2D, ww: tf.Tensor2D, bb: tf.Tensor, save: tf.GradSaveFunc) => {
    save([xx, ww]);
    return {
      value: tf.fused.matMul({ a: xx, b: ww, transposeB: true, bias: bb }),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [...grads(dy, saved), unbroadcast(dy, bb.shape)],
    };
  })(x, w, bias) as tf.Tensor2D;
}

/**
 * `act(x) @ w^T (+ bias)` for `x` `[N, in]`: saves `x` and `w`, and recomputes `act(x)` in the
 * backward pass instead of keeping it (an elementwise pass, against a product over it). For an
 * MLP that keeps one `[tokens, intermediate]` tensor instead of two.
 */
export function activatedLinear2d(
  x: tf.Tensor2D, w: tf.Tensor2D, bias: tf.Tensor | undefined,
  act: (x: tf.Tensor) => tf.Tensor, actGrad: (x: tf.Tensor, dy: tf.Tensor) => tf.Tensor,
): tf.Tensor2D {
  const product = (a: tf.Tensor2D, ww: tf.Tensor2D, bb?: tf.Tensor) =>
    (bb === undefined ? tf.matMul(a, ww, false, true) : tf.fused.matMul({ a, b: ww, transposeB: true, bias: bb }));
  const grads = (dy: tf.Tensor, [xs, ws]: tf.Tensor[]) => {
    const a = act(xs) as tf.Tensor2D;
    const dw = tf.matMul(dy as tf.Tensor2D, a, true, false);
    a.dispose();
    const da = tf.matMul(dy as tf.Tensor2D, ws as tf.Tensor2D);
    const dx = actGrad(xs, da);
    da.dispose();
    return [dx, dw];
  };
  if (bias === undefined) {
    return custom<(x: tf.Tensor, w: tf.Tensor) => tf.Tensor>((xx: tf.Tensor2D, ww: tf.Tensor2D, save: tf.GradSaveFunc) => {
      save([xx, ww]);
      return { value: tf.tidy(() => product(act(xx) as tf.Tensor2D, ww)), gradFunc: grads };
    })(x, w) as tf.Tensor2D;
  }
  return custom<(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.Tensor>((xx: tf.Tensor2D, ww: tf.Tensor2D, bb: tf.Tensor, save: tf.GradSaveFunc) => {
    save([xx, ww]);
    return {
      value: tf.tidy(() => product(act(xx) as tf.Tensor2D, ww, bb)),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [...grads(dy, saved), unbroadcast(dy, bb.shape)],
    };
  })(x, w, bias) as tf.Tensor2D;
}

/**
 * `dropout(p) @ v` (attention probabilities times values, batched over leading axes): saves `p`
 * and `v`, and redraws the dropout mask in the backward pass from its seed (the hash mask of
 * `backend/kernels/dropout.ts` costs one pass) instead of keeping the dropped probabilities, a
 * second `[B, heads, T, T]` tensor.
 */
export function dropoutMatMul(p: tf.Tensor, v: tf.Tensor, rate: number, seed: number): tf.Tensor {
  return custom<(p: tf.Tensor, v: tf.Tensor) => tf.Tensor>((pp: tf.Tensor, vv: tf.Tensor, save: tf.GradSaveFunc) => {
    save([pp, vv]);
    return {
      value: tf.tidy(() => tf.matMul(dropout(pp, rate, seed), vv)),
      gradFunc: (dy: tf.Tensor, [ps, vs]: tf.Tensor[]) => {
        const dropped = dropout(ps, rate, seed);
        const dv = tf.matMul(dropped, dy, true, false);
        dropped.dispose();
        const dDropped = tf.matMul(dy, vs, false, true);
        // Dropout's gradient is the same mask applied to the incoming gradient.
        const dp = dropout(dDropped, rate, seed);
        dDropped.dispose();
        return [dp, dv];
      },
    };
  })(p, v);
}
