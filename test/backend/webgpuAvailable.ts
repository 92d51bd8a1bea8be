/**
 * Whether the `webgpu` backend can run here (Dawn loads and finds an adapter, software or not),
 * for the test files that add `webgpu` to the backends they iterate over. Test files are
 * CommonJS and choose their cases synchronously, so the probe (src/backend/webgpu.ts's, the one
 * initBackend uses) runs in a child process. Without an adapter the cases are skipped and the
 * reason is printed once per file.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

// TF.js's webgpu backend runs ops on inputs under 1000 elements with its CPU kernels when their
// values are on the host; the tests' shapes are small, and must exercise the shaders.
process.env.NEUROPRUNE_WEBGPU_CPU_FORWARD = 'off';

export interface WebGpuAvailability { ok: boolean; reason: string }

const ROOT = path.join(__dirname, '..', '..');
const PROBE = `require('./src/backend/webgpu').probeWebGpu().then(
  (a) => { process.stdout.write(JSON.stringify({ ok: true, reason: require('./src/backend/webgpu').adapterLabel(a) })); process.exit(0); },
  (e) => { process.stdout.write(JSON.stringify({ ok: false, reason: String(e && e.message || e).split('\\n')[0] })); process.exit(0); })`;

let cached: WebGpuAvailability | undefined;

export function webgpuAvailability(file: string): WebGpuAvailability {
  if (!cached) {
    const run = spawnSync(process.execPath, ['--import', 'tsx', '-e', PROBE], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    try {
      cached = JSON.parse(run.stdout) as WebGpuAvailability;
    } catch {
      cached = { ok: false, reason: `the adapter probe failed (status ${run.status}): ${(run.stderr || '').trim().split('\n').pop()}` };
    }
    if (!cached.ok) console.log(`${file}: webgpu cases skipped: ${cached.reason}`);
  }
  return cached;
}
