/**
 * The dense export of a pruned or compacted model: its dense shapes, with zeros where heads,
 * neurons and attention input dimensions were removed (the values: `exportParameter` in
 * src/models/parameters.ts). Such a directory has no `pruned_heads` and no `neuroprune` layout,
 * so every `transformers` version loads it (5.x ignores `pruned_heads`), at the cost of the
 * speed-up; its outputs are those of the pruned model.
 */
/** The config of the dense export: no `pruned_heads`, no `neuroprune` layout. */
export function denseConfig<C extends { pruned_heads?: Record<string, number[]>; neuroprune?: unknown }>(config: C): C {
  const out = structuredClone(config);
  delete out.pruned_heads;
  delete out.neuroprune;
  return out;
}
