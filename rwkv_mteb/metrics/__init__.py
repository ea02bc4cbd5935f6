"""Numbers computed from results: the statistics of the board (intervals, paired tests, Holm, thresholds) and the
label-free layer metrics with their augmentations."""
