// Parses a DSN with Python's email package (a real, independent MIME parser) and returns what it saw.
import { spawnSync } from 'node:child_process';

export const PYTHON = '/usr/bin/python3';

const SCRIPT = `
import email, json, sys
from email import policy
msg = email.message_from_bytes(sys.stdin.buffer.read(), policy=policy.compat32)
def fields(m):
    return {k: ' '.join(v.split()) for k, v in m.items()}
def defects(m):
    found = [type(d).__name__ for d in m.defects]
    if m.is_multipart():
        for part in m.get_payload():
            found += defects(part)
    return found
out = {
    'headers': fields(msg),
    'contentType': msg.get_content_type(),
    'reportType': msg.get_param('report-type'),
    'defects': defects(msg),
    'parts': [],
}
for part in msg.get_payload():
    entry = {'contentType': part.get_content_type(), 'headers': fields(part)}
    ctype = part.get_content_type()
    if ctype == 'message/delivery-status':
        blocks = [fields(block) for block in part.get_payload()]
        entry['perMessage'] = blocks[0]
        entry['recipients'] = blocks[1:]
    elif ctype == 'message/rfc822':
        inner = part.get_payload()[0]
        entry['inner'] = {'headers': fields(inner), 'body': inner.get_payload(decode=True).decode('utf-8', 'replace')}
    else:
        entry['text'] = part.get_payload(decode=True).decode(part.get_content_charset() or 'ascii')
    out['parts'].append(entry)
print(json.dumps(out))
`;

export interface ParsedPart {
  contentType: string;
  headers: Record<string, string>;
  perMessage?: Record<string, string>;
  recipients?: Record<string, string>[];
  inner?: { headers: Record<string, string>; body: string };
  text?: string;
}

export interface ParsedDsn {
  headers: Record<string, string>;
  contentType: string;
  reportType: string | null;
  defects: string[];
  parts: ParsedPart[];
}

/** Why the parser cannot run here, or undefined when it can. */
export function pythonMissing(): string | undefined {
  const probe = spawnSync(PYTHON, ['-c', 'import email'], { encoding: 'utf8' });
  if (probe.error) return `${PYTHON} not runnable (${probe.error.message})`;
  return probe.status === 0 ? undefined : `${PYTHON} cannot import email`;
}

export function parseWithPython(message: Buffer): ParsedDsn {
  const run = spawnSync(PYTHON, ['-c', SCRIPT], { input: message, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`python failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as ParsedDsn;
}
