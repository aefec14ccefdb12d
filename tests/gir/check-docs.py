#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Fails unless the generated GIR documents every type, function, parameter,
return value, property, signal, field, enum member and constant."""
import sys
import xml.etree.ElementTree as ET

NS = {"core": "http://www.gtk.org/introspection/core/1.0",
      "c": "http://www.gtk.org/introspection/c/1.0",
      "glib": "http://www.gtk.org/introspection/glib/1.0"}
CORE = "{%s}" % NS["core"]
DOCUMENTED = {"class", "record", "enumeration", "bitfield", "callback", "function", "method",
              "constructor", "virtual-method", "property", "glib:signal", "member", "field",
              "constant", "parameter", "instance-parameter", "return-value", "interface"}


def tag_of(element):
    tag = element.tag.replace(CORE, "")
    return tag.replace("{%s}" % NS["glib"], "glib:")


def main(path):
    tree = ET.parse(path)
    missing = []
    checked = 0

    def walk(element, trail):
        nonlocal checked
        tag = tag_of(element)
        name = element.get("name", "")
        here = trail + [f"{tag}:{name}" if name else tag]
        # Class structs and private padding are not API a user reads about.
        if tag == "record" and element.get("{%s}is-gtype-struct-for" % NS["glib"]):
            return
        if tag == "field" and (name.startswith("_") or name in ("parent_class", "parent_instance")
                               or element.get("private") == "1"):
            return
        if tag == "return-value":
            rtype = element.find("core:type", NS)
            if rtype is not None and rtype.get("name") == "none":
                return
        if tag in DOCUMENTED:
            checked += 1
            if element.find("core:doc", NS) is None:
                missing.append("/".join(here[1:]))
        for child in element:
            if tag_of(child) in ("doc", "doc-deprecated", "source-position", "type", "array"):
                continue
            walk(child, here)

    walk(tree.getroot(), [])
    for item in missing:
        print("undocumented:", item)
    print(f"{checked} GIR elements checked, {len(missing)} undocumented")
    return 1 if missing or checked < 50 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
