"""The embedded local stack: Kafka broker, AWS endpoint, resources from the template,
the event-source runner and the HTTP API, all on loopback. Never imported by the core."""
