export * from './tokenizer';
export * from './wordpiece';
export * from './hfTokenizer';
export * from './loadTokenizer';
