"""Two-way exchanges of a channel and its ERP: customers both ways, order changes and retail sales back."""
