"""What matches become: record formats (plain, lite, full), topic names, delivery within the limits,
and the output strategies (:mod:`skystream.outputs.base`: Kafka and email side by side).

Outputs depend on ports only (``skystream.ports``); the adapters behind them are wired in
:mod:`skystream.wiring`.
"""
