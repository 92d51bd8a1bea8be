import { describeBackend, initBackend } from '../../backend';
import { writeFileSync } from 'node:fs';
import { predictInOrder, taskData } from '../../train/taskData';
import { evaluate } from '../../train/trainer';
import { helpText, parseCommandArgs, requiredString, stringOption, type OptionTable } from '../args';
import { loadTaskModel, requireTokenizer } from '../checkpointIo';
import { checkInputsFit, checkTaskName, defaultTask, loadTask, taskNameOf } from '../setup';
import { fileTaskFlags, intOption, TASK_FLAGS } from '../trainOptions';

const TABLE: OptionTable = {
  model: { type: 'string', value: 'DIR', help: 'the checkpoint to evaluate (required)' },
  task: TASK_FLAGS.task,
  'glue-dir': TASK_FLAGS['glue-dir'],
  dev: { type: 'string', value: 'FILE', help: 'your own dev data instead of --task: .csv, .tsv or .jsonl; classes follow the model\'s id2label' },
  train: { type: 'string', value: 'FILE', help: 'with --dev, for a model whose config names no labels: the training file whose labels give the class order' },
  'text-column': TASK_FLAGS['text-column'],
  'text-pair-column': TASK_FLAGS['text-pair-column'],
  'label-column': TASK_FLAGS['label-column'],
  regression: TASK_FLAGS.regression,
  text: TASK_FLAGS.text,
  'dev-text': TASK_FLAGS['dev-text'],
  'max-length': TASK_FLAGS['max-length'],
  'limit-dev': TASK_FLAGS['limit-dev'],
  'batch-size': { type: 'string', value: 'N', help: 'examples per forward pass', default: '64' },
  'reinit-classifier': { type: 'boolean', help: 'score a fresh, random classifier in place of a missing (bare encoder) or wrongly sized one: a chance-level baseline' },
  seed: { type: 'string', value: 'N', help: 'seed of the classifier --reinit-classifier draws', default: '42' },
  predictions: { type: 'string', value: 'FILE', help: 'also write one JSON line per dev example, in the file\'s order: {"index", "prediction", "label"} (class names when the task has them)' },
  json: { type: 'boolean', help: 'print the metrics as JSON' },
  help: { type: 'boolean', help: 'show this help' },
};

export async function evalCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, TABLE, 'eval');
  if (values.help) {
    console.log(helpText('eval', "Evaluates a checkpoint on a task's dev set with the task's metric.\n" +
      'A bare encoder (no classifier, e.g. all-MiniLM-L6-v2) is refused: fine-tune it with train first, or pass --reinit-classifier for a chance-level baseline.', TABLE, [
      'neuroprune eval --model runs/negation-neuroprune-*/checkpoint',
      'neuroprune eval --model runs/news-neuroprune-*/checkpoint --dev news/dev.csv --text-column title --label-column topic',
    ]));
    return 0;
  }
  const modelDir = requiredString(values, 'model', 'eval');
  const files = fileTaskFlags(values, 'eval');
  const taskName = files ? taskNameOf(undefined, files) : stringOption(values, 'task') ?? defaultTask({ modelDir });
  if (!files) checkTaskName(taskName);
  const seed = intOption(values, 'seed') ?? 42;
  for (const line of describeBackend(await initBackend())) process.stderr.write(line + '\n');
  requireTokenizer(modelDir, files ? undefined : taskName);
  const task = loadTask({
    task: taskName, files, purpose: 'eval', glueDir: stringOption(values, 'glue-dir'), modelDir, maxLength: intOption(values, 'max-length'),
    textFile: stringOption(values, 'text'), devTextFile: stringOption(values, 'dev-text'),
  });
  const model = loadTaskModel(modelDir, task, { reinitClassifier: values['reinit-classifier'] === true, seed });
  try {
    checkInputsFit(task, { max_position_embeddings: model.maxPositions });
    const data = taskData(task, { batchSize: intOption(values, 'batch-size') ?? 64, seed: 0, padId: task.tokenizer.special.pad, limitDev: intOption(values, 'limit-dev') });
    const t0 = performance.now();
    const metrics = evaluate(model, data);
    const seconds = (performance.now() - t0) / 1000;
    const predictionsFile = stringOption(values, 'predictions');
    if (predictionsFile) {
      const predicted = predictInOrder(model, data.devBatches());
      const dev = task.dev.slice(0, predicted.length);
      const name = (v: number) => (task.labelNames ? task.labelNames[v] : v);
      writeFileSync(predictionsFile, dev.map((e, i) => JSON.stringify({ index: i, prediction: name(predicted[i]), label: name(e.label) }) + '\n').join(''));
    }
    if (values.json) console.log(JSON.stringify({ model: modelDir, task: task.name, metrics, seconds }));
    else console.log(`${task.name} dev: ${Object.entries(metrics).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(', ')} (${seconds.toFixed(1)} s)`);
    return 0;
  } finally {
    model.dispose();
  }
}
