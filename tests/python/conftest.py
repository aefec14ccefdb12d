"""Shared setup for the librtspsession Python tests.

Run with Debian's interpreter (it has gi):
  GI_TYPELIB_PATH=build/gir LD_LIBRARY_PATH=build/src /usr/bin/python3 -m pytest tests/python
"""
import contextlib

import gi

gi.require_version("GLib", "2.0")
gi.require_version("GObject", "2.0")
gi.require_version("RtspSession", "1.0")

from gi.repository import GLib  # noqa: E402

LOG_DOMAIN = "RtspSession"


@contextlib.contextmanager
def expect_criticals(domain=LOG_DOMAIN):
    """Collect the CRITICAL/WARNING messages logged in `domain` inside the block.

    Criticals are not fatal by default (GLib's always-fatal mask is left at its
    defaults for the whole run); inside the block we additionally clear the
    CRITICAL/WARNING bits of the always-fatal and domain fatal masks so that an
    expected programmer-error message cannot abort the interpreter, and restore
    both masks afterwards.  Yields the list of messages.
    """
    got = []

    def handler(log_domain, level, message, *user_data):
        got.append(message)

    levels = (GLib.LogLevelFlags.LEVEL_CRITICAL | GLib.LogLevelFlags.LEVEL_WARNING
              | GLib.LogLevelFlags.FLAG_FATAL | GLib.LogLevelFlags.FLAG_RECURSION)
    keep = GLib.LogLevelFlags.LEVEL_ERROR | GLib.LogLevelFlags.FLAG_RECURSION
    old_always = GLib.log_set_always_fatal(keep)
    old_domain = GLib.log_set_fatal_mask(domain, keep)
    hid = GLib.log_set_handler(domain, levels, handler, None)
    try:
        yield got
    finally:
        GLib.log_remove_handler(domain, hid)
        GLib.log_set_fatal_mask(domain, old_domain)
        GLib.log_set_always_fatal(old_always)


import pytest  # noqa: E402


@pytest.fixture(name="expect_criticals")
def _expect_criticals_fixture():
    """The expect_criticals context manager, as a fixture (no import of conftest needed)."""
    return expect_criticals
