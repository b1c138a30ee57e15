"""Real-style Lasair filters with expected results computed independently of the engine."""
