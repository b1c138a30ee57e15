"""Kafka at the edge: client configuration, the Lambda event contract, producing and topic admin."""
