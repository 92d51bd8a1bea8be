import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const FIXTURES = path.join(__dirname, '..', 'fixtures');

/** A fresh copy of a fixture directory in a temporary folder. */
export function copyFixture(name: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `neuroprune-${name}-`));
  for (const f of fs.readdirSync(path.join(FIXTURES, name))) fs.copyFileSync(path.join(FIXTURES, name, f), path.join(dir, f));
  return dir;
}

export interface RawEntry { dtype: string; shape: number[]; data_offsets: [number, number] }

/** Splits a safetensors file into its header object and its data bytes. */
export function splitSafetensors(bytes: Buffer): { header: Record<string, RawEntry | Record<string, string>>; data: Buffer } {
  const n = Number(bytes.readBigUInt64LE(0));
  return { header: JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')), data: bytes.subarray(8 + n) };
}

/** Joins a header object and data bytes into a safetensors file. */
export function joinSafetensors(header: object, data: Uint8Array): Buffer {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(json.byteLength));
  return Buffer.concat([prefix, json, data]);
}

/** Rewrites `dir/model.safetensors` through `edit`, which may change the header and the data. */
export function editSafetensors(dir: string, edit: (header: Record<string, RawEntry>, data: Buffer) => Buffer | void): void {
  const file = path.join(dir, 'model.safetensors');
  const { header, data } = splitSafetensors(fs.readFileSync(file));
  const newData = edit(header as Record<string, RawEntry>, data) ?? data;
  fs.writeFileSync(file, joinSafetensors(header, newData));
}

export function editConfig(dir: string, edit: (config: Record<string, unknown>) => void): void {
  const file = path.join(dir, 'config.json');
  const config = JSON.parse(fs.readFileSync(file, 'utf8'));
  edit(config);
  fs.writeFileSync(file, JSON.stringify(config));
}

/** float32 to IEEE half, round to nearest even (normals, subnormals, zero). */
export function floatToHalf(x: number): number {
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a === 0) return sign;
  if (a >= 65520) return sign | 0x7c00;
  if (a < 2 ** -14) return sign | Math.round(a / 2 ** -24);
  let e = Math.floor(Math.log2(a));
  let m = Math.round((a / 2 ** e - 1) * 1024);
  if (m === 1024) { m = 0; e += 1; }
  return sign | ((e + 15) << 10) | m;
}

/** Re-encodes every F32 tensor of a safetensors file in `dtype` (F16 or BF16). */
export function convertDtype(dir: string, dtype: 'F16' | 'BF16'): void {
  editSafetensors(dir, (header, data) => {
    const parts: Buffer[] = [];
    let offset = 0;
    for (const [name, e] of Object.entries(header)) {
      if (name === '__metadata__') continue;
      const [b, end] = e.data_offsets;
      const f32 = new Float32Array(data.buffer.slice(data.byteOffset + b, data.byteOffset + end));
      const out = Buffer.alloc(f32.length * 2);
      const bits = new Uint32Array(f32.buffer);
      for (let i = 0; i < f32.length; i++) {
        out.writeUInt16LE(dtype === 'BF16' ? bits[i] >>> 16 : floatToHalf(f32[i]), i * 2);
      }
      e.dtype = dtype;
      e.data_offsets = [offset, offset + out.length];
      offset += out.length;
      parts.push(out);
    }
    return Buffer.concat(parts);
  });
}
