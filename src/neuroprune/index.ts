/** NeuroPrune's model-agnostic core: regularizers, head similarity and elimination, compaction, sparsity. */
export * from './regularizers';
export * from './proximal';
export { DEFAULT_THETA, isValidEps, isValidTheta } from './checks';
export { useFusedRegularizers } from './fusedRegularizers';
export * from './similarity';
export * from './dominating';
export * from './eliminate';
export * from './compact';
export * from './sparsity';
export { checkEps, checkTheta } from './checks';
export * from './magnitude';
export { mlpLinears } from './mlpLinears';
export * from './thetaScale';
