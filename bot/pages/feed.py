"""The Atom feed (RFC 4287) of releases shipped, announcements and retirements, so the community
can subscribe.

Ids are `urn:uuid:` names derived (UUID version 5) from this installation's own id and what the
entry is about: stable for ever — across restarts, replicas and a changed `public_url` — and never
the same on two installations. The XML is built with ElementTree, which escapes every text and
attribute; control characters XML 1.0 cannot hold are removed first.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from xml.etree import ElementTree as ET

from commands.rules.text import clean_text

ATOM = "http://www.w3.org/2005/Atom"
TITLE = "Tower: releases"


def entry_id(installation: str, key: str) -> str:
    """A permanent, globally unique IRI for `key` (e.g. `release/5/shipped`, or `feed`)."""
    try:
        namespace = uuid.UUID(installation)
    except ValueError:  # not a UUID: name the installation within the URL namespace
        namespace = uuid.uuid5(uuid.NAMESPACE_URL, f"tower:{installation}")
    return f"urn:uuid:{uuid.uuid5(namespace, key)}"


def _text(parent: ET.Element, tag: str, text: str, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
    element.text = clean_text(text)
    return element


def _link(parent: ET.Element, href: str, rel: str, kind: str) -> None:
    ET.SubElement(parent, f"{{{ATOM}}}link", {"rel": rel, "type": kind, "href": clean_text(href)})


def atom(entries: list[dict], *, installation: str, self_url: str, home_url: str, updated: datetime) -> str:
    """entries: {key, title, text, at (datetime), link, author (or None)}, newest first.
    `self_url` is where the feed is read, `home_url` the dashboard (absolute when Tower knows its
    address, else relative to the feed)."""
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    _text(feed, "id", entry_id(installation, "feed"))
    _text(feed, "title", TITLE)
    _text(feed, "subtitle", "Releases shipped, announced and retired")
    _text(feed, "updated", updated.isoformat())
    author = ET.SubElement(feed, f"{{{ATOM}}}author")
    _text(author, "name", "Tower")
    _link(feed, self_url, "self", "application/atom+xml")
    _link(feed, home_url, "alternate", "text/html")
    _text(feed, "generator", "Tower")
    for item in entries:
        entry = ET.SubElement(feed, f"{{{ATOM}}}entry")
        _text(entry, "id", entry_id(installation, item["key"]))
        _text(entry, "title", item["title"])
        _text(entry, "updated", item["at"].isoformat())
        _text(entry, "published", item["at"].isoformat())
        if item.get("author"):
            _text(ET.SubElement(entry, f"{{{ATOM}}}author"), "name", item["author"])
        _link(entry, item["link"], "alternate", "text/html")
        _text(entry, "content", item["text"], type="text")
    body = ET.tostring(feed, encoding="unicode")
    return f'<?xml version="1.0" encoding="utf-8"?>\n{body}\n'
