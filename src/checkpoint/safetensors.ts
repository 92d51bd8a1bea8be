/**
 * The safetensors format, read and written without dependencies.
 *
 * Layout: 8 bytes little-endian u64 `N`, then `N` bytes of UTF-8 JSON (the header), then the
 * data. The header maps each tensor name to `{dtype, shape, data_offsets: [begin, end]}`, with
 * offsets relative to the start of the data; an optional `__metadata__` maps strings to strings.
 *
 * Reading decodes to plain `Float32Array`s, not TF.js tensors: a file is checked completely
 * before any tensor exists, so a bad file can never leave tensors behind.
 */
import { CheckpointError } from './errors';

/** Every dtype the safetensors specification defines, with its size in bytes. */
const DTYPE_BYTES: Record<string, number> = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1,
  I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4,
  I64: 8, U64: 8, F64: 8,
};

/** The dtypes whose values this reader decodes to float32. */
export const READABLE_DTYPES = ['F32', 'F16', 'BF16'] as const;

export interface SafetensorsEntry {
  name: string;
  dtype: string;
  shape: number[];
  /** Byte range in the data section. */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  entries: Map<string, SafetensorsEntry>;
  metadata: Record<string, string>;
  /** Offset of the data section in the file: 8 + header length. */
  dataStart: number;
}

/** Largest header we accept (the reference implementation caps it at 100 MB too). */
const MAX_HEADER_BYTES = 100_000_000;

/**
 * Parses and validates the header of a safetensors file held in `bytes`. Checks: the length
 * prefix fits, the JSON parses, every dtype is a safetensors dtype, every byte range matches its
 * shape and lies inside the file (else: truncated data). `file` is used in errors only.
 */
export function parseSafetensorsHeader(bytes: Uint8Array, file: string): SafetensorsHeader {
  if (bytes.byteLength < 8) {
    throw new CheckpointError(`broken safetensors header: the file has ${bytes.byteLength} bytes, fewer than the 8-byte length prefix`, { file });
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(Math.min(MAX_HEADER_BYTES, bytes.byteLength - 8))) {
    throw new CheckpointError(`broken safetensors header: its length prefix says ${n} bytes, the file holds ${bytes.byteLength - 8} after the prefix`, { file });
  }
  const headerLength = Number(n);
  const text = new TextDecoder('utf-8').decode(bytes.subarray(8, 8 + headerLength));
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new CheckpointError(`broken safetensors header: not JSON (${(err as Error).message})`, { file });
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new CheckpointError('broken safetensors header: the JSON is not an object', { file });
  }
  const dataStart = 8 + headerLength;
  const dataLength = bytes.byteLength - dataStart;
  const entries = new Map<string, SafetensorsEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = (raw ?? {}) as Record<string, string>;
      continue;
    }
    const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (!e || typeof e !== 'object' || typeof e.dtype !== 'string' || !Array.isArray(e.shape) || !Array.isArray(e.data_offsets)
      || e.data_offsets.length !== 2 || !e.shape.every((s) => Number.isInteger(s) && s >= 0)
      || !e.data_offsets.every((o) => Number.isInteger(o) && o >= 0)) {
      throw new CheckpointError('broken safetensors header: entry lacks a string dtype, an integer shape or two data_offsets', { file, tensor: name });
    }
    const bytesPer = DTYPE_BYTES[e.dtype];
    const shape = e.shape as number[];
    if (bytesPer === undefined) {
      throw new CheckpointError(`unknown dtype '${e.dtype}' (safetensors defines ${Object.keys(DTYPE_BYTES).join(', ')})`, { file, tensor: name, actual: shape });
    }
    const [begin, end] = e.data_offsets as number[];
    const numel = shape.reduce((a, b) => a * b, 1);
    if (end < begin || end - begin !== numel * bytesPer) {
      throw new CheckpointError(`broken safetensors header: data_offsets [${begin}, ${end}] hold ${end - begin} bytes, but ${e.dtype} of this shape needs ${numel * bytesPer}`, { file, tensor: name, actual: shape });
    }
    if (end > dataLength) {
      throw new CheckpointError(`truncated data: the tensor's bytes end at ${end}, but the data section has only ${dataLength} bytes`, { file, tensor: name, actual: shape });
    }
    entries.set(name, { name, dtype: e.dtype, shape, begin, end });
  }
  return { entries, metadata, dataStart };
}

/** IEEE half to float. */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Decodes one tensor's values to float32 (F32, F16, BF16); other dtypes are refused. */
export function decodeTensor(bytes: Uint8Array, header: SafetensorsHeader, entry: SafetensorsEntry, file: string): Float32Array {
  const start = header.dataStart + entry.begin;
  const length = entry.end - entry.begin;
  const view = new DataView(bytes.buffer, bytes.byteOffset + start, length);
  switch (entry.dtype) {
    case 'F32': {
      // Copy: the data may be unaligned inside the file buffer, and the caller owns the result.
      const out = new Float32Array(length / 4);
      for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
      return out;
    }
    case 'F16': {
      const out = new Float32Array(length / 2);
      for (let i = 0; i < out.length; i++) out[i] = halfToFloat(view.getUint16(i * 2, true));
      return out;
    }
    case 'BF16': {
      // bfloat16 is the top half of a float32.
      const bits = new Uint32Array(length / 2);
      for (let i = 0; i < bits.length; i++) bits[i] = view.getUint16(i * 2, true) << 16;
      return new Float32Array(bits.buffer);
    }
    default:
      throw new CheckpointError(`dtype ${entry.dtype} cannot be read as weights (readable: ${READABLE_DTYPES.join(', ')})`, { file, tensor: entry.name, actual: entry.shape });
  }
}

export interface TensorToWrite {
  name: string;
  shape: readonly number[];
  data: Float32Array;
}

/**
 * Serialises float32 tensors to safetensors bytes, in the given order. The header is padded with
 * spaces to a multiple of 8 bytes, as the reference writer does, so the data is aligned.
 */
export function encodeSafetensors(tensors: readonly TensorToWrite[], metadata: Record<string, string> = { format: 'pt' }): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const t of tensors) {
    const numel = t.shape.reduce((a, b) => a * b, 1);
    if (numel !== t.data.length) throw new Error(`tensor ${t.name}: shape [${t.shape}] has ${numel} values, data has ${t.data.length}`);
    header[t.name] = { dtype: 'F32', shape: [...t.shape], data_offsets: [offset, offset + numel * 4] };
    offset += numel * 4;
  }
  let json = JSON.stringify(header);
  const raw = new TextEncoder().encode(json);
  const pad = (8 - (raw.byteLength % 8)) % 8;
  json += ' '.repeat(pad);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.byteLength + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.byteLength), true);
  out.set(headerBytes, 8);
  let pos = 8 + headerBytes.byteLength;
  for (const t of tensors) {
    for (let i = 0; i < t.data.length; i++) view.setFloat32(pos + i * 4, t.data[i], true);
    pos += t.data.length * 4;
  }
  return out;
}
