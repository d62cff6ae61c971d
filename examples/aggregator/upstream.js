// Where the aggregator's sources live. The config's egress.allow must list this exact host:port:
// a loopback upstream is refused unless it is listed that way.
export const UPSTREAM = 'http://127.0.0.1:8081';
