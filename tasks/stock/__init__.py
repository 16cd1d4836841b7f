"""The stock exchanges' steps (stock sync, reconciliation): read what moved, work out the channel's stock
by the seed modules' rules, queue what differs."""
