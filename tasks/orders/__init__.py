"""The order exchanges' steps (order upload, archive backfill, statuses back): read, stage, plan and send
orders exactly once; map the ERP's states back."""
