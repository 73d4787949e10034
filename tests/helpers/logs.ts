import { Writable } from 'node:stream';
import { pino } from 'pino';

/** A real pino logger whose JSON lines the test can read. */
export function capturingLogger(level: string) {
  const lines: string[] = [];
  const logger = pino(
    { level },
    new Writable({
      write(chunk, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    }),
  );
  return { lines, logger };
}
