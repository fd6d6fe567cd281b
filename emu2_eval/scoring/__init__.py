"""From stored responses to numbers: answer filters, metrics, and the statistics (bootstrap
intervals) behind them."""
