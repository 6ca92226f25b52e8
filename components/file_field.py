"""Uploads that keyboard and screen-reader users can work: the uploader's header is a labelled native file field.

Quasar's uploader hides its file input inside its '+' button: an unnamed button with a control nested in it and
an input without a label (axe-core: aria-command-name, nested-interactive, label). The header slot replaces
them with a <label> naming a native file input; a chosen file goes to the uploader as a picked one did.
"""

from __future__ import annotations

from html import escape

from nicegui import ui

HEADER = """<label class="q-uploader__header-content row items-center no-wrap q-pa-sm q-gutter-sm cursor-pointer">
<span class="q-uploader__title">{label}</span>
<input type="file" accept="{accept}" class="col" @change="props.addFiles($event.target.files)">
</label>"""


def file_field(upload: ui.upload, *, label: str, accept: str) -> ui.upload:
    """`upload` with its header replaced; `accept` also goes to the uploader, which filters by it too."""
    upload.props['accept'] = accept
    upload.add_slot('header', HEADER.format(label=escape(label), accept=escape(accept)))
    return upload
