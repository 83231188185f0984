// A small LMTP server for tests (real TCP or Unix socket): answers each RCPT and, after DATA, each
// accepted recipient as the scenario says, and records what it was sent.
import { createServer, type Server, type Socket } from 'node:net';
import type { TestContext } from 'node:test';

export interface LmtpScenario {
  greeting?: string;
  mail?: (from: string) => string;
  rcpt?: (address: string) => string;
  /** Reply after DATA for an accepted recipient; undefined closes the connection there. */
  delivered?: (address: string) => string | undefined;
  extensions?: string[];
}

export interface Received {
  commands: string[];
  /** Messages as the server saw them after dot-unstuffing. */
  messages: Buffer[];
}

export interface TestLmtpServer extends Received {
  port: number;
  connections: number;
  /** Closes every open connection from the server's side (as an idle timeout would). */
  dropConnections(): void;
}

function serve(socket: Socket, scenario: LmtpScenario, received: Received): void {
  const say = (line: string) => socket.write(`${line}\r\n`);
  let pending = Buffer.alloc(0);
  let inData = false;
  let dataLines: Buffer[] = [];
  let accepted: string[] = [];
  say(scenario.greeting ?? '220 lmtp.test LMTP ready');
  const finishData = () => {
    received.messages.push(Buffer.concat(dataLines));
    dataLines = [];
    inData = false;
    for (const address of accepted) {
      const answer = (scenario.delivered ?? (() => '250 2.0.0 Saved'))(address);
      if (answer === undefined) {
        socket.destroy();
        return;
      }
      say(answer);
    }
    accepted = [];
  };
  const command = (line: string) => {
    received.commands.push(line);
    const verb = line.split(' ')[0]?.toUpperCase();
    if (verb === 'LHLO') {
      const extensions = scenario.extensions ?? ['PIPELINING', 'ENHANCEDSTATUSCODES', '8BITMIME'];
      for (const ext of ['lmtp.test', ...extensions].slice(0, -1)) say(`250-${ext}`);
      say(`250 ${extensions.at(-1) ?? 'lmtp.test'}`);
    } else if (verb === 'MAIL') {
      say((scenario.mail ?? (() => '250 2.1.0 OK'))(line));
    } else if (verb === 'RCPT') {
      const address = /<(.*)>/.exec(line)?.[1] ?? '';
      const answer = (scenario.rcpt ?? (() => '250 2.1.5 OK'))(address);
      if (answer.startsWith('2')) accepted.push(address);
      say(answer);
    } else if (verb === 'DATA') {
      inData = true;
      say('354 Go ahead');
    } else if (verb === 'RSET') {
      accepted = [];
      say('250 2.0.0 OK');
    } else if (verb === 'QUIT') {
      say('221 2.0.0 Bye');
      socket.end();
    } else say('500 5.5.1 Unknown command');
  };
  socket.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    for (let end = pending.indexOf('\r\n'); end >= 0; end = pending.indexOf('\r\n')) {
      const line = pending.subarray(0, end + 2);
      pending = pending.subarray(end + 2);
      if (!inData) command(line.subarray(0, -2).toString('utf8'));
      else if (line.toString('latin1') === '.\r\n') finishData();
      else dataLines.push(line[0] === 0x2e ? line.subarray(1) : line);
    }
  });
  socket.on('error', () => socket.destroy());
}

/** Starts the server on 127.0.0.1 (or a Unix socket path); closed after the test. */
export async function startLmtpServer(
  t: TestContext,
  scenario: LmtpScenario,
  socketPath?: string,
): Promise<TestLmtpServer> {
  const sockets = new Set<Socket>();
  const state: TestLmtpServer = {
    port: 0,
    connections: 0,
    commands: [],
    messages: [],
    dropConnections: () => {
      for (const socket of sockets) socket.destroy();
    },
  };
  const server: Server = createServer((socket) => {
    state.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    serve(socket, scenario, state);
  });
  await new Promise<void>((resolve) => {
    if (socketPath === undefined) server.listen(0, '127.0.0.1', resolve);
    else server.listen(socketPath, resolve);
  });
  const address = server.address();
  if (address !== null && typeof address === 'object') state.port = address.port;
  t.after(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return state;
}
