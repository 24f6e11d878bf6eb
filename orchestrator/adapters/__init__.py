"""Implementations of the ports: Redis, memory, Kafka, Prometheus."""
