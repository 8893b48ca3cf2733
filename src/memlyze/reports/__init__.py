"""Reports built from a capture: the data behind them and the pages that show it."""
