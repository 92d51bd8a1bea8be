/**
 * The one error type of checkpoint reading and writing. Its message always names the file and,
 * when one is involved, the tensor and the shapes; the fields carry the same facts for code.
 */
export interface CheckpointErrorDetails {
  /** The file (or directory) being read or written. */
  file: string;
  /** The tensor concerned, if any. */
  tensor?: string;
  /** The shape the config implies, if relevant. */
  expected?: readonly number[];
  /** The shape (or byte range) found, if relevant. */
  actual?: readonly number[];
}

export class CheckpointError extends Error {
  readonly file: string;
  readonly tensor?: string;
  readonly expected?: readonly number[];
  readonly actual?: readonly number[];

  constructor(problem: string, details: CheckpointErrorDetails) {
    const parts = [`${details.file}:`];
    if (details.tensor !== undefined) parts.push(`tensor '${details.tensor}':`);
    parts.push(problem);
    if (details.expected) parts.push(`(expected shape [${details.expected.join(', ')}]`
      + (details.actual ? `, found [${details.actual.join(', ')}])` : ')'));
    else if (details.actual) parts.push(`(found [${details.actual.join(', ')}])`);
    super(parts.join(' '));
    this.name = 'CheckpointError';
    this.file = details.file;
    this.tensor = details.tensor;
    this.expected = details.expected;
    this.actual = details.actual;
  }
}

/**
 * A checkpoint whose classifier has another number of labels than the caller asked for. Kept
 * apart so that a command can say which task and which flag; the message alone is complete.
 */
export class LabelCountError extends CheckpointError {
  constructor(readonly checkpointLabels: number, readonly requestedLabels: number, details: CheckpointErrorDetails) {
    super(`has a ${checkpointLabels}-label classifier, ${requestedLabels} labels asked for; pass reinitClassifier: true `
      + `(--reinit-classifier) to replace it with a fresh ${requestedLabels}-label head, or use a model of the right size`, details);
    this.name = 'LabelCountError';
  }
}
