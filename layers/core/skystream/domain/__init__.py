"""What skystream is about, with no I/O: filters, annotations, errors, value bounds, names.

The leaf of the package: it imports nothing else of skystream, so every other part may use it.
"""
