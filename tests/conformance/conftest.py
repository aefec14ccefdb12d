"""Shared setup for the conformance tests (RtspSession against GstRtspServer).

The helpers shared with tests/python live in tests/common/rs_testutil.py; this file
puts that directory on sys.path (whatever the current directory) and has pytest
rewrite the asserts in it.
"""
import os
import sys

import pytest

COMMON = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                      os.pardir, "common"))
if COMMON not in sys.path:
    sys.path.insert(0, COMMON)
pytest.register_assert_rewrite("rs_testutil")
