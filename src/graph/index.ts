/** Graph views of the weights: neuron graphs of MLPs, head graphs of attention, their statistics, heavy-tail tests and export. */
export * from './powerLaw';
export * from './alternatives';
export * from './heavyTail';
export * from './degreeStats';
export * from './neuronGraph';
export * from './headGraph';
export * from './summary';
export * from './export';
export { erfc, logTruncatedPowerLawSum } from './special';
