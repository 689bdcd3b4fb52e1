"""Harnesses shared by the test suite, the benchmarks and the scripts: a throwaway
PostgreSQL, a real Dagster webserver, a whole deployment (daemon, webserver, queue).

They import anything they need (the top layer); nothing in failtrack imports them.
"""
