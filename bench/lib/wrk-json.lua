-- wrk -s wrk-json.lua: prints the run's summary as one JSON line (latencies in microseconds).
done = function(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.status + summary.errors.timeout
  io.write(string.format(
    '{"requests": %d, "seconds": %.3f, "rps": %.1f, "bytes": %d, "errors": %d, ' ..
    '"latency_us": {"mean": %.1f, "p50": %d, "p90": %d, "p99": %d, "max": %d}}\n',
    summary.requests, seconds, summary.requests / seconds, summary.bytes, errors,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
