"""The HTTP API (functions/filter_api): filters, runs, objects, schema, served by powertools."""
