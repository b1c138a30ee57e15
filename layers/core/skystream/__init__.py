"""skystream: a serverless alert broker for Rubin alerts (core library).

The core never imports a handler or ``skystream.local``; data flows one way:
alerts -> features -> filters -> outputs, with storage and streams at the edge.
"""

__version__ = "0.1.0"
