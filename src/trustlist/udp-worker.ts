import type { Socket as UdpSocket } from 'node:dgram';
import { ListState } from './serve.js';
import type { ZoneSettings } from './served.js';
import { TrustListStore } from './store.js';

/**
 * An extra UDP responder process (startTrustListServer's udpWorkers): it receives the bound UDP
 * socket from the main process, opens the list read-only, and rebuilds when told to. The kernel
 * hands each datagram to one of the processes reading the socket, so both cores answer.
 */

type Command = { kind: 'start'; file: string; settings: ZoneSettings } | { kind: 'reload' };

let state: ListState | undefined;

process.on('message', (command: Command, handle: unknown) => {
  if (command.kind === 'reload') {
    state?.reload();
    return;
  }
  const store = TrustListStore.open(command.file, { readonly: true });
  const listState = new ListState(store, command.settings);
  state = listState;
  const socket = handle as UdpSocket;
  socket.on('message', (message, peer) => {
    const response = listState.answerUdp(message);
    if (response) socket.send(response, peer.port, peer.address);
  });
  process.send?.({ kind: 'ready' });
});

// The main process owns the list: when it goes, so do we.
process.on('disconnect', () => process.exit(0));
