/**
 * Thread priority of the inference worker: the nice value lands on the worker's own thread (read back from
 * /proc, the kernel's view), not on the main thread, and threads created after it (as onnxruntime's are) inherit it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { currentThreadId } from '../../../src/core/thread-priority.ts';
import { WorkerEngine } from '../../../src/inference/worker/client.ts';

/** A thread's nice value as the kernel reports it (field 19 of /proc/PID/task/TID/stat). */
function niceOf(tid: number): number {
  const stat = readFileSync(`/proc/${process.pid}/task/${tid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
}

const linux = process.platform === 'linux';

test('a nice value set on a thread stays on that thread, and threads it starts later inherit it (why the worker lowers itself before onnxruntime makes its pool)', { skip: !linux && 'needs Linux /proc' }, async () => {
  assert.equal(currentThreadId(), process.pid, "the main thread's id is the process id");
  const mainNice = niceOf(process.pid);
  // A thread lowers itself, then starts a worker of its own: both report their ids and nice values back.
  const code = `
    const { parentPort, Worker } = require('node:worker_threads');
    const { readlinkSync } = require('node:fs');
    const { setPriority } = require('node:os');
    const tid = () => Number(readlinkSync('/proc/thread-self').split('/').pop());
    setPriority(tid(), 6);
    const child = new Worker("require('node:worker_threads').parentPort.postMessage(Number(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop()))", { eval: true });
    child.once('message', (c) => { parentPort.postMessage({ self: tid(), child: c }); child.terminate(); });
  `;
  const w = new Worker(code, { eval: true });
  const ids = await new Promise<{ self: number; child: number }>((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
    setTimeout(() => reject(new Error('no answer in 10 s')), 10_000).unref();
  });
  try {
    assert.equal(niceOf(ids.self), 6);
    assert.equal(niceOf(ids.child), 6, 'a thread started after inherits the nice value');
    assert.equal(niceOf(process.pid), mainNice, 'the main thread keeps its priority');
  } finally {
    await w.terminate();
  }
});

test('WorkerEngine niceness: the inference thread runs at that nice value, the main thread is untouched', { skip: !linux && 'needs Linux /proc' }, async () => {
  const mainNice = niceOf(process.pid);
  await using engine = await WorkerEngine.create({ niceness: 7 });
  const tid = engine.threadId;
  assert.ok(tid !== undefined && tid !== process.pid, `worker thread id ${tid}`);
  assert.equal(niceOf(tid), 7);
  assert.equal(niceOf(process.pid), mainNice);
});
