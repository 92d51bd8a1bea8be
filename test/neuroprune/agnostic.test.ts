import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const CORE = path.join(__dirname, '..', '..', 'src', 'neuroprune');
const files = fs.readdirSync(CORE).filter((f) => f.endsWith('.ts'));

/** The code of a file without its comments (a comment may mention an architecture as an example). */
function code(file: string): string {
  return fs.readFileSync(path.join(CORE, file), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
}

describe('the core knows no architecture', () => {
  it('imports nothing from src/models but the block types', () => {
    expect(files.length).toBeGreaterThan(5);
    for (const f of files) {
      const fromModels = [...code(f).matchAll(/from '\.\.\/models\/([^']+)'/g)].map((m) => m[1]);
      for (const m of fromModels) expect(`${f}: ${m}`).toBe(`${f}: blocks`);
      // ... and only types from there (blocks.ts holds types only).
      for (const line of code(f).split('\n').filter((l) => l.includes("'../models/blocks'"))) expect(line).toMatch(/^import type /);
    }
  });

  it('names no architecture and no Hugging Face parameter', () => {
    for (const f of files) {
      expect(code(f)).not.toMatch(/\b(bert|opt|gpt2?|t5)\b|intermediate\.dense|self\.query|q_proj|c_attn|intermediate_size\b|num_attention_heads|hidden_size/i);
    }
  });
});
