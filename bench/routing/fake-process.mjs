// A fake OpenAI provider in its own process, driven over IPC: the load
// generator's event loop then times requests without also serving the
// upstream side (race triples the fakes' work, which would otherwise show up
// as race latency).
import { fork } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

if (process.send && process.argv[2] === '--child') {
  const require = createRequire(import.meta.url);
  const { startFakeOpenAI } = require('../../libs/fake-provider/dist/index.js');
  const fake = await startFakeOpenAI({ behavior: JSON.parse(process.argv[3]), recordRequests: false });
  process.on('message', async ({ id, op, arg }) => {
    let result = null;
    if (op === 'setBehavior') fake.setBehavior(arg);
    else if (op === 'reset') fake.reset();
    else if (op === 'stats') result = fake.stats();
    else if (op === 'close') await fake.close();
    process.send({ id, result });
    if (op === 'close') process.exit(0);
  });
  process.send({ id: 0, result: fake.url });
}

/** Starts a fake in a child process; the same calls as startFakeOpenAI's server, each async. */
export function startFakeOpenAIProcess(behavior) {
  const child = fork(fileURLToPath(import.meta.url), ['--child', JSON.stringify(behavior)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const waiting = new Map();
  let next = 1;
  child.on('message', ({ id, result }) => {
    waiting.get(id)?.(result);
    waiting.delete(id);
  });
  const call = (op, arg) =>
    new Promise((resolve) => {
      const id = next++;
      waiting.set(id, resolve);
      child.send({ id, op, arg });
    });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    waiting.set(0, (url) =>
      resolve({
        url,
        setBehavior: (b) => call('setBehavior', b),
        reset: () => call('reset'),
        stats: () => call('stats'),
        close: () => call('close'),
      }),
    );
  });
}
