/**
 * Gradients of a scalar with respect to variables: `tf.variableGrads`'s results, computed with the
 * memory behaviour of PyTorch's autograd.
 *
 * TF.js's `engine.gradients` keeps every tensor the forward pass saved for the backward pass, and
 * the gradient of every intermediate tensor, until the whole backward pass has finished, so a
 * step's peak holds the forward's saved activations plus one gradient per activation. Here each
 * tape node's saved tensors are released as soon as that node's backward has run, and the gradient
 * of a tensor as soon as the node that produced it has consumed it, so memory falls during the
 * backward pass as it does in PyTorch.
 *
 * The walk is TF.js's own (the same node filter, the same order, the same accumulation), so the
 * gradients are the same numbers `tf.variableGrads` returns; test/train/gradients.test.ts checks
 * that bit for bit. It reads the engine's tape (`startTape`, `state.activeTape`, tape nodes'
 * `saved`), which TF.js does not export as API: the test also guards that these still exist.
 * Higher-order gradients (a tape already recording) go through `tf.variableGrads` unchanged.
 */
import * as tf from '@tensorflow/tfjs';

/** The engine members this module uses, as TF.js 4.22 has them. */
interface TapeNode {
  id: number;
  kernelName: string;
  inputs: Record<string, tf.Tensor>;
  outputs: tf.Tensor[];
  saved?: tf.Tensor[];
  gradient?: (dys: Array<tf.Tensor | null>) => Record<string, () => tf.Tensor>;
}
interface EngineInternals {
  state: { activeTape: TapeNode[] | null; gradientDepth: number };
  scopedRun<T>(start: () => void, end: () => void, f: () => T): T;
  startTape(): void;
  endTape(): void;
  tidy<T extends tf.TensorContainer>(name: string, f: () => T): T;
  tidy<T extends tf.TensorContainer>(f: () => T): T;
}

/** The nodes on a path from one of `xs` to `y`, each with only the inputs that depend on `xs` (as TF.js filters). */
function nodesFromXsToY(tape: TapeNode[], xs: tf.Tensor[], y: tf.Tensor): TapeNode[] {
  const fromX = new Set<number>(xs.map((x) => x.id));
  const nodesFromX = new Set<number>();
  for (const node of tape) {
    if (Object.values(node.inputs).some((input) => fromX.has(input.id))) {
      node.outputs.forEach((o) => fromX.add(o.id));
      nodesFromX.add(node.id);
    }
  }
  const leadToY = new Set<number>([y.id]);
  const nodesToY = new Set<number>();
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i];
    if (node.outputs.some((o) => leadToY.has(o.id))) {
      Object.values(node.inputs).forEach((input) => leadToY.add(input.id));
      nodesToY.add(node.id);
    }
  }
  return tape
    .filter((node) => nodesFromX.has(node.id) && nodesToY.has(node.id))
    .map((node) => ({
      ...node,
      inputs: Object.fromEntries(Object.entries(node.inputs).filter(([, input]) => fromX.has(input.id))),
    }));
}

/**
 * Gradient of each tensor id, with tensors counted by holder: one gradient tensor can be the
 * gradient of several ids (a gradient function may return its `dy` unchanged), and is disposed
 * when the last id lets go of it.
 */
class GradientMap {
  private readonly byId = new Map<number, tf.Tensor>();
  private readonly holders = new Map<tf.Tensor, number>();

  get(id: number): tf.Tensor | undefined {
    return this.byId.get(id);
  }

  set(id: number, t: tf.Tensor): void {
    this.release(id);
    this.byId.set(id, t);
    this.holders.set(t, (this.holders.get(t) ?? 0) + 1);
  }

  /** Drops id's gradient, disposing the tensor unless another id still holds it. */
  release(id: number): void {
    const t = this.byId.get(id);
    if (t === undefined) return;
    this.byId.delete(id);
    const n = (this.holders.get(t) ?? 1) - 1;
    if (n > 0) { this.holders.set(t, n); return; }
    this.holders.delete(t);
    t.dispose();
  }

  /** True while some id holds `t`. */
  holds(t: tf.Tensor): boolean {
    return this.holders.has(t);
  }
}

/** `tf.variableGrads(f, vars)`, releasing saved activations and consumed gradients as it goes. */
export function variableGrads(f: () => tf.Scalar, vars: tf.Variable[]): { value: tf.Scalar; grads: tf.NamedTensorMap } {
  const engine = tf.engine() as unknown as EngineInternals;
  if (engine.state.gradientDepth > 0) return tf.variableGrads(f, vars);
  const xs = vars.filter((v) => v.trainable);
  if (xs.length === 0) throw new Error(`variableGrads: none of the ${vars.length} variables is trainable`);

  const y = engine.scopedRun(() => engine.startTape(), () => engine.endTape(), () => engine.tidy('forward', f));
  if (!(y instanceof tf.Tensor) || y.rank !== 0) {
    throw new Error(`variableGrads: the loss function must return a scalar tensor, got ${y instanceof tf.Tensor ? `rank ${y.rank}` : typeof y}`);
  }
  const tape = engine.state.activeTape ?? [];
  const nodes = nodesFromXsToY(tape, xs, y);
  const xIds = new Set(xs.map((x) => x.id));

  const grads = engine.tidy('backward', () => {
    const gradients = new GradientMap();
    gradients.set(y.id, tf.onesLike(y));
    for (let i = nodes.length - 1; i >= 0; i--) {
      const node = nodes[i];
      if (node.gradient === undefined) throw new Error(`Cannot compute gradient: gradient function not found for ${node.kernelName}.`);
      const inputGradients = node.gradient(node.outputs.map((o) => gradients.get(o.id) ?? null));
      for (const [name, x] of Object.entries(node.inputs)) {
        const gradientOf = inputGradients[name];
        if (gradientOf === undefined) throw new Error(`Cannot backprop through input ${name} of ${node.kernelName}.`);
        const dx = engine.tidy(() => gradientOf());
        if (dx.dtype !== 'float32') throw new Error(`Error in gradient for op ${node.kernelName}: the gradient of input '${name}' must be float32, got ${dx.dtype}`);
        if (!tf.util.arraysEqual(dx.shape, x.shape)) {
          throw new Error(`Error in gradient for op ${node.kernelName}: the gradient of input '${name}' has shape [${dx.shape}], the input [${x.shape}]`);
        }
        const previous = gradients.get(x.id);
        if (previous === undefined) {
          gradients.set(x.id, dx);
        } else {
          gradients.set(x.id, tf.add(previous, dx));
          if (!gradients.holds(dx)) dx.dispose();
        }
      }
      // This node was the last consumer of its outputs' gradients (the tape is in execution
      // order), and nothing else reads the tensors it saved: both can go now.
      for (const o of node.outputs) if (!xIds.has(o.id)) gradients.release(o.id);
      for (const t of node.saved ?? []) t.dispose();
    }
    const named: tf.NamedTensorMap = {};
    for (const x of xs) { const g = gradients.get(x.id); if (g !== undefined) named[x.name] = g; }
    return named;
  });
  // As `engine.gradients`: the tape's remaining saved tensors (nodes off the path) go with it.
  for (const node of tape) for (const t of node.saved ?? []) t.dispose();
  engine.state.activeTape = null;

  if (Object.keys(grads).length === 0) throw new Error('variableGrads: no variable is connected to the loss');
  return { value: y, grads };
}
