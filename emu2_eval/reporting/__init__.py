"""Report formats built from results.json: Markdown/CSV tables, LaTeX, a self-contained HTML
report, the comparison with the paper's numbers, and optional TensorBoard / W&B logging."""
