// HTTP(S) between post offices: connect to an address resolved through outpost's resolver, verify
// the certificate for the post office's name, bound time and size.
import http from 'node:http';
import https from 'node:https';

export interface PeerRequest {
  method: 'GET' | 'POST';
  url: URL;
  /** The address to connect to (resolved by the caller through outpost's DNS). */
  ip: string;
  json?: unknown;
  timeoutMs: number;
  /** Larger bodies abort the request. */
  maxBytes: number;
}

export interface PeerResponse {
  status: number;
  body: Buffer;
}

/** Agents for both schemes; one per post office so its sockets can be closed with it. */
export class PeerClient {
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  private readonly httpsAgent: https.Agent;

  constructor(ca?: string | Buffer) {
    this.httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 16, ...(ca ? { ca } : {}) });
  }

  request(request: PeerRequest): Promise<PeerResponse> {
    const { url } = request;
    const secure = url.protocol === 'https:';
    const body = request.json === undefined ? undefined : Buffer.from(JSON.stringify(request.json));
    const headers: Record<string, string> = { host: url.host };
    if (body) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(body.length);
    }
    const options = {
      host: request.ip,
      port: url.port || (secure ? 443 : 80),
      path: `${url.pathname}${url.search}`,
      method: request.method,
      headers,
      timeout: request.timeoutMs,
    };
    return new Promise((resolve, reject) => {
      const outgoing = secure
        ? https.request({ ...options, agent: this.httpsAgent, servername: url.hostname })
        : http.request({ ...options, agent: this.httpAgent });
      outgoing.on('timeout', () => outgoing.destroy(new Error(`timeout after ${request.timeoutMs} ms`)));
      outgoing.on('error', reject);
      outgoing.on('response', (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > request.maxBytes) {
            outgoing.destroy(new Error(`response larger than ${request.maxBytes} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        response.on('error', reject);
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks) }));
      });
      outgoing.end(body);
    });
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

/** The `error.code` of a JSON error body, if the peer sent one. */
export function errorCodeOf(body: Buffer): string | undefined {
  try {
    const parsed: unknown = JSON.parse(body.toString('utf8'));
    if (typeof parsed !== 'object' || parsed === null || !('error' in parsed)) return undefined;
    const error: unknown = parsed.error;
    if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
    return typeof error.code === 'string' ? error.code : undefined;
  } catch {
    return undefined;
  }
}
