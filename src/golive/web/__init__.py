"""Mission control: the live web dashboard of a go-live, its JSON API and its live stream.

    from golive.web import create_app
    app = create_app("sqlite:///path/to/.golive/state.db")   # serve with uvicorn

`golive serve` does exactly this. See docs/web.md.
"""

from golive.web.app import create_app

__all__ = ["create_app"]
