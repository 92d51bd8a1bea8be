export * from './tokenizer';
export * from './wordpiece';
export * from './hfTokenizer';
export * from './loadTokenizer';
export * from './random';
export * from './metrics';
export * from './glue';
export * from './batching';
