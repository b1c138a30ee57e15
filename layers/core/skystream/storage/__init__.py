"""Storage ports and their DynamoDB/S3 adapters (in-memory fakes live beside them for unit tests)."""
