/**
 * The generator's worker thread (see parallel.ts): builds the population once, then generates each block of patients
 * it is sent as NDJSON chunks, handing each chunk's buffer over without a copy.
 * @module
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Population, type PopulationOptions } from './generate.js';
import type { WorkerMessage } from './parallel.js';

const { options, chunkBytes } = workerData as { options: PopulationOptions; chunkBytes: number };
const port = parentPort!;
const send = (message: WorkerMessage, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);
try {
  const population = new Population(options);
  port.on('message', ({ block, from, to }: { block: number; from: number; to: number }) => {
    try {
      for (const chunk of population.ndjson(chunkBytes, { from, to })) {
        const { buffer, byteOffset, length } = chunk.bytes;
        // The encoder starts every chunk at the start of a fresh buffer, so the buffer is the chunk's alone.
        if (byteOffset !== 0) throw new Error('a chunk does not start its buffer');
        send({ block, buffer: buffer as ArrayBuffer, length, patients: chunk.patients, records: chunk.records }, [buffer as ArrayBuffer]);
      }
      send({ block, done: true });
    } catch (error) {
      send({ error: { message: (error as Error).message } });
    }
  });
} catch (error) {
  send({ error: { message: (error as Error).message } });
}
