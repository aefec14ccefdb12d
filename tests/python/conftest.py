"""Shared setup for the librtspsession Python tests.

Run with Debian's interpreter (it has gi):
  GI_TYPELIB_PATH=build/gir LD_LIBRARY_PATH=build/src /usr/bin/python3 -m pytest tests/python

The helpers shared with tests/conformance live in tests/common/rs_testutil.py; this
file puts that directory on sys.path (whatever the current directory) and has pytest
rewrite the asserts in it.
"""
import os
import sys

import gi

gi.require_version("GLib", "2.0")
gi.require_version("GObject", "2.0")
gi.require_version("RtspSession", "1.0")

import pytest  # noqa: E402

COMMON = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                      os.pardir, "common"))
if COMMON not in sys.path:
    sys.path.insert(0, COMMON)
pytest.register_assert_rewrite("rs_testutil")

from rs_testutil import capture_criticals  # noqa: E402


@pytest.fixture(name="expect_criticals")
def _expect_criticals_fixture():
    """rs_testutil.capture_criticals (domain defaults to the library's), as a fixture:
    `with expect_criticals() as msgs:` collects the CRITICAL/WARNING messages logged
    in the block."""
    return capture_criticals
