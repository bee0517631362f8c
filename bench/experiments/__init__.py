"""One-off measurements behind the notes in docs/performance.md."""
