"""The sign-in page can never submit the API key natively (into a URL and the server's access log)."""

from __future__ import annotations

from html.parser import HTMLParser
from importlib import resources


class _Form(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inputs: list[dict[str, str | None]] = []
        self.buttons: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "input":
            self.inputs.append(dict(attrs))
        elif tag == "button":
            self.buttons.append(dict(attrs))


def test_the_credential_has_no_name_and_the_button_waits_for_the_script() -> None:
    page = resources.files("stellar_arrow.api").joinpath("static/login.html").read_text()
    form = _Form()
    form.feed(page)
    credential = next(i for i in form.inputs if i.get("id") == "credential")
    assert "name" not in credential  # a native submission would carry nothing
    assert all("disabled" in b for b in form.buttons if b.get("type") == "submit")
    script = resources.files("stellar_arrow.api").joinpath("static/login.js").read_text()
    assert "disabled = false" in script and 'dataset.ready = "yes"' in script
