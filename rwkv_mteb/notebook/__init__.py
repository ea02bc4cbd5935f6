"""The Python API for notebooks: a sweep's results and a published board as pandas DataFrames and plots."""
