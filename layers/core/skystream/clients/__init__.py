"""Clients of a running skystream: Lasair's Kafka consumer and the HTTP API client. Not shipped in the Lambda layer."""
