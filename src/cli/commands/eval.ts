import { describeBackend, initBackend } from '../../backend';
import { taskData } from '../../train/taskData';
import { evaluate } from '../../train/trainer';
import { helpText, parseCommandArgs, requiredString, stringOption, type OptionTable } from '../args';
import { loadTaskModel, requireTokenizer } from '../checkpointIo';
import { checkInputsFit, checkTaskName, defaultTask, loadTask } from '../setup';
import { intOption, TASK_FLAGS } from '../trainOptions';

const TABLE: OptionTable = {
  model: { type: 'string', value: 'DIR', help: 'the checkpoint to evaluate (required)' },
  task: TASK_FLAGS.task,
  'glue-dir': TASK_FLAGS['glue-dir'],
  text: TASK_FLAGS.text,
  'dev-text': TASK_FLAGS['dev-text'],
  'max-length': TASK_FLAGS['max-length'],
  'limit-dev': TASK_FLAGS['limit-dev'],
  'batch-size': { type: 'string', value: 'N', help: 'examples per forward pass', default: '64' },
  json: { type: 'boolean', help: 'print the metrics as JSON' },
  help: { type: 'boolean', help: 'show this help' },
};

export async function evalCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, TABLE, 'eval');
  if (values.help) {
    console.log(helpText('eval', "Evaluates a checkpoint on a task's dev set with the task's metric.", TABLE, ['neuroprune eval --model runs/negation-neuroprune-*/checkpoint']));
    return 0;
  }
  const modelDir = requiredString(values, 'model', 'eval');
  for (const line of describeBackend(await initBackend())) process.stderr.write(line + '\n');
  const taskName = stringOption(values, 'task') ?? defaultTask({ modelDir });
  checkTaskName(taskName);
  requireTokenizer(modelDir, taskName);
  const task = loadTask({
    task: taskName, glueDir: stringOption(values, 'glue-dir'), modelDir, maxLength: intOption(values, 'max-length'),
    textFile: stringOption(values, 'text'), devTextFile: stringOption(values, 'dev-text'),
  });
  const model = loadTaskModel(modelDir, task);
  try {
    checkInputsFit(task, { max_position_embeddings: model.maxPositions });
    const data = taskData(task, { batchSize: intOption(values, 'batch-size') ?? 64, seed: 0, padId: task.tokenizer.special.pad, limitDev: intOption(values, 'limit-dev') });
    const t0 = performance.now();
    const metrics = evaluate(model, data);
    const seconds = (performance.now() - t0) / 1000;
    if (values.json) console.log(JSON.stringify({ model: modelDir, task: task.name, metrics, seconds }));
    else console.log(`${task.name} dev: ${Object.entries(metrics).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(', ')} (${seconds.toFixed(1)} s)`);
    return 0;
  } finally {
    model.dispose();
  }
}
