/** The paper's baselines (CoFI, DSP) and head importance; see each module. */
export * from './hardConcrete';
export * from './gumbelTopK';
export * from './gates';
export * from './cofi';
export * from './dsp';
export * from './removal';
export * from './headImportance';
export { trainBaseline, COFI_DEFAULTS, DSP_DEFAULTS, type BaselineMethod, type CofiMethod, type DspMethod, type BaselineGateRecord, type BaselineRun } from './train';
