// The key order of every object that crosses the thread boundary on the hot path, as the code that
// builds it writes it. Both threads give msgpackr this same fixed list, so these shapes travel as a
// record id instead of a record definition in every message, and each message still decodes on its
// own. An object whose keys differ from every entry (a new field, another order) is still encoded
// correctly, with its definition inline; keep this list in step with messages.ts all the same.
// Changing it changes the wire format (PROTOCOL_VERSION).

export const SHAPES: readonly (readonly string[])[] = [
  // events
  ['k', 'id', 'method', 'uri', 'query', 'headers', 'body', 'clientAddress', 'serverAddress'],
  ['k', 'id', 'client', 'uri'],
  ['k', 'id', 'client', 'data'],
  ['k', 'id', 'client'],
  ['k', 'id'],
  // commands
  ['c', 'id', 'o', 'status', 'reason', 'headers', 'body'],
  ['c', 'id', 'o', 'status', 'reason', 'headers', 'body', 'rb'],
  ['c', 'id', 'o'],
  ['c', 'client', 'op', 'data'],
  ['c', 'client', 'code', 'reason'],
  ['c', 'op', 'data'],
  ['c', 'level', 'msg'],
  // batches and their results
  ['v', 't', 'batches'],
  ['tenant', 'generation', 'info', 'events', 'cancel'],
  ['server_running', 'websocket_connections', 'requests', 'errors_exception', 'errors_timeout', 'errors_memory',
    'errors_overloaded', 'errors_internal', 'timeouts', 'memory_restarts', 'bytes_in', 'bytes_out',
    'isolate_heap_bytes', 'cpu_time_ms', 'errors_output', 'header_budget_breaches', 'log_lines_dropped',
    'body_too_large', 'connections_refused', 'slow_readers_closed', 'primary', 'isolates'],
  ['v', 'results', 'ringEnd', 'hold'],
  ['tenant', 'generation', 'commands', 'pending', 'backlog', 'breachedMs', 'stats'],
  ['heapUsed', 'cpuTimeMs', 'memoryRestarts', 'headerBreaches', 'logLinesDropped', 'live'],
];
