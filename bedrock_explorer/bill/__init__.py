"""The AWS bill beside the logs: bill lines from Cost Explorer or CUR 2.0 files, read into the
same buckets as the logged usage (UTC day, account, region, model, meter, routing, tier), so
finance can see whether the estimate matches the invoice and show per-caller views in billed
dollars.

- :mod:`usage_types` reads a usage type (data in ``usage_types.json``);
- :mod:`model_match` pairs the bill's model names with logged base model ids;
- :mod:`lines` stores bill lines, one source (a file, a Cost Explorer service) at a time;
- :mod:`cur_files` imports CUR 2.0 / Data Exports files (local or S3);
- :mod:`cost_explorer` syncs from ``ce:GetCostAndUsage``;
- :mod:`reconcile` compares, and allocates billed dollars to invocations.
"""
