"""Where every number comes from: checkpoint identity, the profiling hook and memory peaks, the side files beside
results, and the typed profile records."""
