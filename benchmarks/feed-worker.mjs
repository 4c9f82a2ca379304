// A worker thread that writes a range of the synthetic population's NDJSON into a file or named pipe (the engine
// benchmark's load: the engine reads the pipe through its file path while this thread generates). Blocks of patients
// are generated on `threads` more worker threads (parallelNdjson) and written in order; a plain write to a pipe
// waits while the reader is behind, so the generator never runs ahead by more than its blocks in flight.
import { closeSync, openSync, writeSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { parallelNdjson } from '../packages/synthetic/dist/index.js';

const { path, options, range, threads } = workerData;
const fd = openSync(path, 'w');
let records = 0;
let bytes = 0;
for await (const chunk of parallelNdjson(options, { threads, range })) {
  for (let at = 0; at < chunk.bytes.length; ) at += writeSync(fd, chunk.bytes, at);
  records = chunk.records;
  bytes += chunk.bytes.length;
}
closeSync(fd);
parentPort.postMessage({ records, bytes });
