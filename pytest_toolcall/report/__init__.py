"""Report: records of results, gates, terminal / JSON / Markdown output, baselines."""
