/**
 * Graph export: the files read back with graphology's own parsers and with NetworkX's readers
 * (an independent implementation of both formats), and GEXF validated against the official
 * GEXF 1.3 XML schema (test/fixtures/schemas/gexf-1.3, from gephi/gexf) with xmllint.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import Graph from 'graphology';
import { parse as parseGexf } from 'graphology-gexf';
import { parse as parseGraphml } from 'graphology-graphml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend';
import { exportModelGraphs, writeGraph } from '../../src/graph/export';
import { leveledAttention, mlpBlock, model } from './blocks';

const XSD = join(__dirname, '../fixtures/schemas/gexf-1.3/gexf.xsd');
const xmllint = spawnSync('xmllint', ['--version']).status === 0;
const networkx = spawnSync('python3', ['-c', 'import networkx']).status === 0;
const skipXmllint = xmllint ? '' : ' (skipped: xmllint not found; apt-get install libxml2-utils)';
const skipNetworkx = networkx ? '' : ' (skipped: python3 with networkx not found; pip install networkx)';
if (!xmllint) console.log(`export.test.ts: GEXF schema check${skipXmllint}`);
if (!networkx) console.log(`export.test.ts: NetworkX read-back${skipNetworkx}`);

let dir = '';
let files: string[] = [];
const d = 4;
// Layer 0: win has one negative weight and one below eps; heads 0 and 1 within theta, 2 far away.
const win = [[0.5, -0.25, 0, 0.125], [0, 0, 0, 0], [1e-6, 0.75, 0, 0]];
const wout = [[1, 0, -0.5], [0, 0, 0], [0.25, 0, 0], [0, 0, 0]];

beforeAll(async () => {
  await initBackend({ force: 'cpu' });
  dir = mkdtempSync(join(tmpdir(), 'np-export-'));
  const m = model([leveledAttention([0, 0.05, 1], 1, 0)], [mlpBlock(win, wout, 0)], d);
  for (const format of ['gexf', 'graphml'] as const) files.push(...exportModelGraphs(m, { dir, format, theta: 0.1 }));
  tf.disposeVariables();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function read(path: string): Graph {
  const text = readFileSync(path, 'utf8');
  return path.endsWith('.gexf') ? parseGexf(Graph, text) : parseGraphml(Graph, text);
}

describe('exportModelGraphs', () => {
  it('writes one neuron graph and one head graph per layer and format', () => {
    expect(files.map((f) => f.slice(dir.length + 1)).sort()).toEqual(['layer0.heads.gexf', 'layer0.heads.graphml', 'layer0.neurons.gexf', 'layer0.neurons.graphml']);
  });

  for (const ext of ['gexf', 'graphml']) {
    it(`${ext}: neuron graph reads back with |w| as weight, the sign and degrees on nodes`, () => {
      const g = read(join(dir, `layer0.neurons.${ext}`));
      expect(g.order).toBe(d + 3 + d);
      expect(g.size).toBe(4 + 3); // 4 weights of win and 3 of wout at or above 1e-4
      const e = g.edge('in:1', 'h:0')!;
      expect(g.getEdgeAttribute(e, 'weight')).toBeCloseTo(0.25, 6);
      expect(Number(g.getEdgeAttribute(e, 'sign'))).toBe(-1);
      expect(Number(g.getEdgeAttribute(g.edge('h:2', 'out:0')!, 'sign'))).toBe(-1);
      expect(g.hasEdge('in:0', 'h:2')).toBe(false); // 1e-6 is below eps
      expect(Number(g.getNodeAttribute('h:0', 'inDegree'))).toBe(3);
      expect(Number(g.getNodeAttribute('h:0', 'outDegree'))).toBe(2);
      expect(Number(g.getNodeAttribute('h:1', 'outDegree'))).toBe(0);
      // Weighted degree (graphology-metrics): 0.5 + 0.25 + 0.125 in, 1 + 0.25 out.
      expect(Number(g.getNodeAttribute('h:0', 'strength'))).toBeCloseTo(2.125, 6);
      expect(g.getNodeAttribute('h:0', 'kind')).toBe('hidden');
    });

    it(`${ext}: head graph reads back with distances, kept heads and merge targets`, () => {
      const g = read(join(dir, `layer0.heads.${ext}`));
      expect(g.order).toBe(3);
      expect(g.size).toBe(1);
      expect(Number(g.getEdgeAttribute(g.edges()[0], 'distance'))).toBeCloseTo(0.05, 6);
      const kept = g.mapNodes((n, a) => [n, String(a.kept), Number(a.mergeInto), Number(a.component)]);
      // Heads 0 and 1 have equal rows: Algorithm 3 keeps the later one and merges 0 into it.
      expect(kept).toEqual([['0', 'false', 1, 0], ['1', 'true', 1, 0], ['2', 'true', 2, 1]]);
      expect(Number(g.getNodeAttribute('0', 'centrality'))).toBeCloseTo(0.5, 12);
    });
  }

  it.skipIf(!xmllint)(`GEXF files validate against the GEXF 1.3 schema${skipXmllint}`, () => {
    for (const f of files.filter((p) => p.endsWith('.gexf'))) {
      const out = execFileSync('xmllint', ['--noout', '--schema', XSD, f], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      expect(out).toBe('');
    }
    // The check can fail: a misspelt element does not validate.
    const bad = join(dir, 'bad.gexf');
    writeFileSync(bad, readFileSync(files.find((p) => p.endsWith('heads.gexf'))!, 'utf8').replace('<nodes>', '<nodez>').replace('</nodes>', '</nodez>'));
    expect(spawnSync('xmllint', ['--noout', '--schema', XSD, bad]).status).not.toBe(0);
  });

  it.skipIf(!networkx)(`NetworkX reads both formats with the same nodes, edges and weights${skipNetworkx}`, () => {
    const script = [
      'import json, sys, networkx as nx',
      'out = {}',
      'for p in sys.argv[1:]:',
      '    g = nx.read_gexf(p) if p.endswith(".gexf") else nx.read_graphml(p)',
      '    out[p] = {"nodes": g.number_of_nodes(), "edges": sorted([u, v, round(float(a.get("weight", a.get("distance", 0))), 6)] for u, v, a in g.edges(data=True))}',
      'print(json.dumps(out))',
    ].join('\n');
    const res = JSON.parse(execFileSync('python3', ['-c', script, ...files], { encoding: 'utf8' }));
    const neurons = files.filter((f) => f.includes('neurons'));
    expect(res[neurons[0]]).toEqual(res[neurons[1]]);
    expect(res[neurons[0]].nodes).toBe(2 * d + 3);
    expect(res[neurons[0]].edges).toContainEqual(['in:1', 'h:0', 0.25]);
    const heads = files.filter((f) => f.includes('heads'));
    expect(res[heads[0]]).toEqual(res[heads[1]]);
    expect(res[heads[0]].edges).toEqual([['0', '1', 0.05]]);
  });

  it('rejects unknown formats and bad options', () => {
    const g = new Graph();
    expect(() => writeGraph(g, 'dot' as never)).toThrow(/unknown format 'dot'/);
    const m = model([], [], d);
    expect(() => exportModelGraphs(m, { dir, format: 'gexf', theta: -1 })).toThrow(/theta must be a number >= 0/);
    expect(() => exportModelGraphs(m, { dir, format: 'gexf', theta: 0.1, eps: 0 })).toThrow(/eps must be a finite number > 0/);
  });
});
