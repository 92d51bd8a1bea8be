/**
 * Regenerate the built-in task's files in data/negation (train.tsv, dev.tsv, vocab.txt,
 * tokenizer_config.json) from the generator in src/data/syntheticTask.ts.
 *
 *   npx tsx scripts/make_negation_task.ts
 *
 * test/data/syntheticTask.test.ts fails when the committed files differ from the generator.
 */
import { NEGATION_TASK_DIR, writeNegationTask } from '../src/data';

writeNegationTask(NEGATION_TASK_DIR);
console.log(`wrote ${NEGATION_TASK_DIR}`);
