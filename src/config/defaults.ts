import { randomBytes } from 'node:crypto';

/** The config written by `outpost init` / the first `outpost serve`: every default spelled out. */
export function defaultConfigText(): string {
  const token = randomBytes(24).toString('base64url');
  return `# outpost configuration. Durations: "500ms", "30s", "5m", "4h", "5d". Sizes: "64KB", "25MB".
# Reference: docs/configuration.md. Check it with: outpost config check

# Our host name, used in the SMTP greeting, EHLO and Received headers.
hostname = "localhost"

# Domains whose mail is delivered into local Maildirs (data/mail/<domain>/<local>/).
domains = ["localhost"]

log_level = "info"

[http]
# HTTP API: /health, /api/queue, /metrics. Writes need "Authorization: Bearer <token>".
address = "127.0.0.1:8025"
token = "${token}"

[tls]
# Generated (self-signed) on first run when missing. Paths are relative to the data directory.
cert = "tls/cert.pem"
key = "tls/key.pem"

[dns]
# Empty: the servers of /etc/resolv.conf. Otherwise "host:port" entries.
servers = []
timeout = "3s"
tries = 2
lookups_per_message = 40

[queue]
max_age = "5d"
warn_after = "4h"
retry = ["1m", "5m", "15m", "30m", "1h", "2h", "4h"]
concurrency = 20

[[listeners]]
name = "mx"
profile = "mx"
address = "127.0.0.1:2525"
max_message_size = "25MB"
max_recipients = 100
max_connections = 1000
max_connections_per_ip = 50
command_timeout = "5m"
data_timeout = "10m"

# Submission for our own users (RFC 6409): AUTH required, only over TLS, sender must be theirs.
[[listeners]]
name = "submission"
profile = "submission"
address = "127.0.0.1:2587"

[[listeners]]
name = "submissions"
profile = "submission"
address = "127.0.0.1:2465"
implicit_tls = true

# Counters survive restarts (data/ratelimit.db). Reference: docs/reference/ratelimit.md
[submission.rate_limits]
recipients_per_message = 100

[submission.rate_limits.per_user]
messages_per_hour = 200
recipients_per_hour = 1000

[submission.rate_limits.per_ip]
messages_per_hour = 500
recipients_per_hour = 2500
`;
}
