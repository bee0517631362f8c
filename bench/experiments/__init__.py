"""One-off measurements behind the proposals in docs/readme/perf-requests.md."""
