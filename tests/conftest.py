import os
import sys

# The tests import their NumPy oracle (tests/reference.py) by name; with
# --import-mode=importlib the tests folder is not on sys.path by itself.
sys.path.insert(0, os.path.dirname(__file__))
