/** The maps of an MLP block that regularization, sparsity and magnitude pruning read. */
import type { Linear, MlpBlock } from '../models/blocks';

/** The weight-carrying maps of an MLP block, in a fixed order: the gate (if any), input, output. */
export function mlpLinears(block: MlpBlock): Linear[] {
  return block.gate ? [block.gate, block.input, block.output] : [block.input, block.output];
}
