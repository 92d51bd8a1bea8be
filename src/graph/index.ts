/** Graph views of the weights: neuron graphs of MLPs, head graphs of attention, their statistics. */
export * from './powerLaw';
export * from './degreeStats';
export * from './neuronGraph';
export * from './headGraph';
export * from './summary';
