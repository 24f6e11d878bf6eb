"""The channel side: the contract with channel teams and a reference channel worker.

Importing the package is light (the CLI reads ``SENDERS`` from it); the worker's modules
import aiokafka, redis and aiohttp when they are used.
"""

SENDERS = ("webhook", "console", "file", "wecom-stub", "sms-stub")
