/** Plotly figure builders (pure data in, figure spec out) and their HTML renderers. */
export * from './figure';
export * from './degree';
export * from './heads';
export * from './sweep';
export * from './training';
export * from './render';
export * from './image';
export * from './series';
export * from './headGraph';
