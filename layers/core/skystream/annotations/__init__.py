"""Annotations: users' classifiers upload a verdict per object; filters join it and can be re-run by it."""
