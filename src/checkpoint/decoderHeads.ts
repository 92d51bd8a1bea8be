/**
 * The parts of a checkpoint architecture that OPT and GPT-2 share: both carry either a
 * language-model head or a `score` classification head (no bias) read at each row's last
 * non-padding token.
 */
import type { DecoderLabels, DecoderTask } from '../models/decoder';
import type { PrunedConfig } from '../models/tableModel';
import { writePruning } from './configFields';
import type { Architecture } from './modelDir';

type DecoderConfig = DecoderLabels & { task: DecoderTask; pad_token_id: number | null; bos_token_id?: number; eos_token_id?: number };

/** The optional fields a decoder config ends with, as Hugging Face writes them (ids, problem type, pruning). */
export function writeDecoderTail(cfg: DecoderConfig & PrunedConfig, out: Record<string, unknown>): Record<string, unknown> {
  if (cfg.bos_token_id !== undefined) out.bos_token_id = cfg.bos_token_id;
  if (cfg.eos_token_id !== undefined) out.eos_token_id = cfg.eos_token_id;
  if (cfg.problem_type) out.problem_type = cfg.problem_type;
  writePruning(cfg, out);
  return out;
}
type HeadFields = 'isHead' | 'classifier' | 'numLabels' | 'setNumLabels' | 'adapt';

export function decoderHeads<C extends DecoderConfig>(): Pick<Architecture<C, never>, HeadFields> {
  return {
    isHead: (name) => name === 'score.weight',
    classifier: ['score.weight'],
    numLabels: (config) => (config.task === 'sequence_classification' ? config.num_labels : null),
    setNumLabels(config, n) {
      config.num_labels = n;
      delete config.id2label;
      delete config.label2id;
    },
    adapt(config, request, fail) {
      if (request.task !== undefined) config.task = request.task;
      const classifies = config.task === 'sequence_classification';
      if (config.pad_token_id === null && request.padTokenId !== undefined) config.pad_token_id = request.padTokenId;
      else if (classifies && request.padTokenId !== undefined && config.pad_token_id !== request.padTokenId) {
        // The head reads each row's last token that is not pad_token_id: batches padded with another id would be read at the padding.
        fail(`config pad_token_id ${config.pad_token_id} is not the tokenizer's padding id ${request.padTokenId}: classification reads each row's last non-padding token, so they must agree`);
      }
      if (classifies && config.pad_token_id === null) fail(`config has no pad_token_id: a classification head reads each row's last non-padding token`);
    },
  };
}
