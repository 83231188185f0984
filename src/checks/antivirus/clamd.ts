import { connect, type Socket } from 'node:net';

/** Where clamd listens: TCP host and port, or a UNIX socket path. */
export type ClamdTarget = { host: string; port: number } | { socketPath: string };

/** clamd's verdict on one stream. */
export type ClamdVerdict =
  | { kind: 'clean' }
  | { kind: 'infected'; name: string }
  /** clamd could not scan (size limit exceeded, out of memory, ...); `message` is its text. */
  | { kind: 'error'; message: string };

/** Data goes to clamd in chunks of this size (well under any StreamMaxLength). */
const CHUNK_SIZE = 64 * 1024;
/** A reply longer than this is not clamd talking. */
const MAX_REPLY = 4096;

/**
 * Scans `data` with clamd's zINSTREAM command: the command, then each chunk as a 4-byte big-endian
 * length and the bytes, then a zero length; clamd answers one NUL-terminated line. Rejects when
 * clamd cannot be reached, closes without an answer, answers nonsense, or `signal` aborts.
 */
export function clamdInstream(target: ClamdTarget, data: Buffer, signal: AbortSignal): Promise<ClamdVerdict> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(abortReason(signal));
      return;
    }
    const socket = 'socketPath' in target ? connect(target.socketPath) : connect(target.port, target.host);
    const received: Buffer[] = [];
    let settled = false;
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      outcome();
    };
    const onAbort = () => settle(() => reject(abortReason(signal)));
    signal.addEventListener('abort', onAbort, { once: true });
    // clamd may answer and close before it has read everything (size limit): the answer still counts.
    const answerSoFar = () => Buffer.concat(received).toString('latin1').replace(/\0.*$/s, '');
    socket.on('data', (chunk: Buffer) => {
      received.push(chunk);
      const nul = chunk.indexOf(0);
      const length = received.reduce((sum, part) => sum + part.length, 0);
      if (nul >= 0) settle(() => answer(answerSoFar(), resolve, reject));
      else if (length > MAX_REPLY) settle(() => reject(new Error('clamd reply too long')));
    });
    socket.on('end', () => {
      const text = answerSoFar();
      settle(() =>
        text === ''
          ? reject(new Error('clamd closed the connection without a reply'))
          : answer(text, resolve, reject),
      );
    });
    socket.on('error', (error) => {
      const text = answerSoFar();
      settle(() => (text === '' ? reject(error) : answer(text, resolve, reject)));
    });
    socket.on('connect', () => {
      sendStream(socket, data).catch((error: unknown) => {
        settle(() => reject(error instanceof Error ? error : new Error(String(error))));
      });
    });
  });
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('clamd scan aborted');
}

function answer(
  text: string,
  resolve: (verdict: ClamdVerdict) => void,
  reject: (error: Error) => void,
): void {
  const verdict = parseClamdReply(text);
  if (verdict === undefined)
    reject(new Error(`unexpected clamd reply: ${JSON.stringify(text.slice(0, 200))}`));
  else resolve(verdict);
}

/**
 * Reads one clamd reply line: `stream: OK`, `stream: <name> FOUND`, `<message> ERROR` (e.g.
 * `INSTREAM size limit exceeded. ERROR`); undefined for anything else.
 */
export function parseClamdReply(line: string): ClamdVerdict | undefined {
  const text = line.replace(/\0$/, '').trim();
  if (/^stream: OK$/.test(text)) return { kind: 'clean' };
  const found = /^stream: (.+) FOUND$/.exec(text);
  if (found?.[1] !== undefined) return { kind: 'infected', name: found[1] };
  const error = /^(?:stream: )?(.*?) ?ERROR$/.exec(text);
  if (error?.[1] !== undefined) return { kind: 'error', message: error[1] === '' ? 'ERROR' : error[1] };
  return undefined;
}

async function sendStream(socket: Socket, data: Buffer): Promise<void> {
  await write(socket, Buffer.from('zINSTREAM\0', 'latin1'));
  for (let offset = 0; offset < data.length; offset += CHUNK_SIZE) {
    const chunk = data.subarray(offset, offset + CHUNK_SIZE);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(chunk.length);
    await write(socket, length);
    await write(socket, chunk);
    if (socket.destroyed) return;
  }
  await write(socket, Buffer.alloc(4));
}

/** Writes and, when the socket's buffer is full, waits until it drains or the socket goes away. */
function write(socket: Socket, bytes: Buffer): Promise<void> {
  if (socket.destroyed) return Promise.resolve();
  if (socket.write(bytes)) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.on('drain', done);
    socket.on('close', done);
  });
}
