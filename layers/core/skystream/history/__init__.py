"""The history: every alert's objects row, its detection and new forced photometry, kept by night on S3.

``schema`` is the contract between the writer (``functions/history_writer``), the engines that read it
(DuckDB locally, Athena on AWS) and the services that query it (run now over every object, backtests,
lightcurves). Pure: no I/O here.
"""
