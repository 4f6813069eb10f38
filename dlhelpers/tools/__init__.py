"""Maintainer and instructor tools behind one CLI, ``python -m dlhelpers <command>``: training the shipped
weights, sampling to a PNG, regenerating data, the benchmark, student copies and grading. Nothing in the library
imports this folder."""
