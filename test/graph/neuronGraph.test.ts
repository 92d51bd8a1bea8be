import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import { hiddenDegrees, mlpDegrees, neuronDegreesOf, neuronGraph, neuronGraphFromWeights, neuronKey } from '../../src/graph/neuronGraph';
import { mlpBlock } from './blocks';

beforeAll(async () => {
  await initBackend({ force: 'cpu' });
});

// d = 3, de = 2. Entries below 1e-4 in magnitude are no edges.
const win = [
  [0.5, 0, -0.2],
  [0, 5e-5, 0],
];
const wout = [
  [1, 0],
  [-1e-4, 0],
  [0, 0],
];

describe('neuron graph of an MLP block', () => {
  it('counts degrees per neuron kind from the weights', () => {
    const deg = mlpDegrees(mlpBlock(win, wout));
    expect([...deg.hiddenIn]).toEqual([2, 0]);
    expect([...deg.hiddenOut]).toEqual([2, 0]); // |-1e-4| >= eps counts
    expect([...deg.inputOut]).toEqual([1, 0, 1]);
    expect([...deg.outputIn]).toEqual([1, 1, 0]);
    expect([...hiddenDegrees(deg)]).toEqual([4, 0]);
    expect(deg.edges).toBe(4);
    expect(deg.density).toBeCloseTo(4 / 12, 12);
    expect(mlpDegrees(mlpBlock(win, wout), { eps: 1e-5 }).hiddenIn[1]).toBe(1);
  });

  it('builds a layered graph with weights on the edges, isolated neurons included', () => {
    const g = neuronGraph(mlpBlock(win, wout));
    expect(g.order).toBe(3 + 2 + 3);
    expect(g.size).toBe(4);
    // The weight is the magnitude (graph tools read it as a strength); the sign is its own attribute.
    expect(g.getEdgeAttribute(neuronKey('input', 2), neuronKey('hidden', 0), 'weight')).toBeCloseTo(0.2, 6);
    expect(g.getEdgeAttribute(neuronKey('input', 2), neuronKey('hidden', 0), 'sign')).toBe(-1);
    expect(g.hasEdge(neuronKey('hidden', 0), neuronKey('output', 1))).toBe(true);
    expect(g.degree(neuronKey('hidden', 1))).toBe(0);
    expect(g.getNodeAttributes(neuronKey('output', 2))).toEqual({ kind: 'output', index: 2 });
  });

  it('agrees with mlpDegrees on a random sparse block', () => {
    const sparse = (shape: [number, number], seed: number) => tf.tidy(() => tf.mul(tf.randomNormal(shape, 0, 1, 'float32', seed), tf.cast(tf.greater(tf.randomUniform(shape, 0, 1, 'float32', seed + 1), 0.7), 'float32')) as tf.Tensor2D);
    const block = mlpBlock(sparse([16, 8], 1), sparse([8, 16], 3));
    const deg = mlpDegrees(block);
    const g = neuronGraph(block);
    const hidden = neuronDegreesOf(g, 'hidden');
    expect(hidden.inDegree).toEqual([...deg.hiddenIn]);
    expect(hidden.outDegree).toEqual([...deg.hiddenOut]);
    expect(neuronDegreesOf(g, 'input').outDegree).toEqual([...deg.inputOut]);
    expect(neuronDegreesOf(g, 'output').inDegree).toEqual([...deg.outputIn]);
    expect(g.size).toBe(deg.edges);
  });

  it('refuses mismatched shapes and graphs above maxEdges, naming the block', () => {
    const bad = mlpBlock([[1, 2]], [[1, 2]]);
    expect(() => mlpDegrees(bad)).toThrow(/layer\.0\.mlp: input.weight is \[1,2\] and output.weight \[1,2\]/);
    expect(() => neuronGraph(mlpBlock(win, wout), { maxEdges: 3 })).toThrow(/4 edges exceed maxEdges 3/);
    expect(() => neuronGraphFromWeights({ data: [1], shape: [1, 2] }, { data: [1, 1], shape: [2, 1] })).toThrow(/data lengths/);
    expect(() => mlpDegrees(mlpBlock(win, wout), { eps: 0 })).toThrow(/eps must be/);
  });

  it('leaves no tensors behind', () => {
    const block = mlpBlock(win, wout);
    const before = tf.memory().numTensors;
    mlpDegrees(block);
    neuronGraph(block);
    expect(tf.memory().numTensors).toBe(before);
  });
});
