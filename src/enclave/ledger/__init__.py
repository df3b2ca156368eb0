"""Usage and cost: one row per request, priced from the price sheet, written in batches off the request path."""
