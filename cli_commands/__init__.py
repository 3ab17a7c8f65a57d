"""The click commands of `takusu`, one module per part of the job; cli.py gathers them.

Only this package, cli.py and nothing in vault/ import click. Every command parses its
options, calls the library, and prints through the output gate in term.py.
"""
