"""The services: each one procedure of the broker (ingest, matching, a filter's lifecycle, annotations,
the digest), written against ports and wired to real adapters by :mod:`skystream.wiring`.
"""
