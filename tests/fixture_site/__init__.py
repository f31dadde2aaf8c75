"""Static pages with known answers for the processors' tests and benchmark (see app.py)."""
