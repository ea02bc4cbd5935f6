"""The published leaderboard: reading results, building the typed board, the README tables and plots, the web page,
publishing."""
