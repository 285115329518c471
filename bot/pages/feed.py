"""An Atom feed of announcements, so the community can subscribe."""

from __future__ import annotations

from datetime import datetime
from xml.sax.saxutils import escape as xml_escape

from commands.rules.text import clean_text


def escape(text: str, entities: dict[str, str] | None = None) -> str:
    """XML text: escaped, and without the control characters XML 1.0 cannot hold at all."""
    return xml_escape(clean_text(text), entities or {})


def atom(entries: list[dict], *, base_url: str, updated: datetime) -> str:
    """entries: {id, title, text, at (datetime), link}."""
    items = []
    for entry in entries:
        link = f'<link href="{escape(entry["link"], {chr(34): "&quot;"})}"/>' if entry.get("link") else ""
        items.append(
            f"<entry><id>{escape(entry['id'])}</id><title>{escape(entry['title'])}</title>{link}"
            f"<updated>{entry['at'].isoformat()}</updated>"
            f'<content type="text">{escape(entry["text"])}</content></entry>'
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        f"<id>{escape(base_url or 'urn:tower')}/feed.xml</id><title>Release announcements</title>"
        f"<updated>{updated.isoformat()}</updated>{''.join(items)}</feed>\n"
    )
