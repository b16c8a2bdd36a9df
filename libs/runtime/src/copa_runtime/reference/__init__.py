"""A reference service, as small as a service can be, for the runtime's tests and benchmarks.

It is not part of the platform: it exists so that the outbox, the relay and the consumer can
be proven and measured on a real database and broker without any domain in the way.
"""
