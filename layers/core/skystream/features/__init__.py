"""The ``objects`` row: Lasair-compatible features computed from one alert."""
