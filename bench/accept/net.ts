// Small pieces the accept harnesses share: free ports and waiting for a greeting.
import { connect } from 'node:net';

/** A port in the upper range; the harnesses retry start-up on the rare collision. */
export function randomPort(): number {
  return 20_000 + Math.floor(Math.random() * 20_000);
}

/** Resolves once something on 127.0.0.1:port greets (sends any byte). */
export function waitForPort(port: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const socket = connect(port, '127.0.0.1');
      socket.once('data', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', () => {
        socket.destroy();
        if (Date.now() > deadline) reject(new Error(`nothing answers on port ${port}`));
        else setTimeout(attempt, 200);
      });
    };
    attempt();
  });
}
