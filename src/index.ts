/**
 * neuroprune: dynamic sparse fine-tuning of transformers (NeuroPrune) on TF.js.
 *
 * The library's public surface, one module per concept:
 * backends, models and their block view, Hugging Face checkpoints, the NeuroPrune algorithms,
 * graph views, data, training, and plotly figure builders.
 */
export * from './backend';
export * from './models/blocks';
export * from './models/layers';
export * from './models/bert';
export * from './models/generation';
export * from './checkpoint';
export * from './neuroprune';
export * as graph from './graph';
export * from './data';
export * from './train/options';
export * from './train/types';
export * from './train/adamw';
export * from './train/schedule';
export * from './train/clip';
export * from './train/trainer';
export * from './train/bertTask';
export * from './train/neuropruneOps';
export * from './train/taskData';
export * from './train/sweep';
export * from './train/jsonl';
export * from './train/runDir';
export * as viz from './viz';
// The TF.js instance the library computes with, so that callers' tensors live on the same engine.
export * as tf from '@tensorflow/tfjs';
export * as notebook from './notebook';
