"""A 200 made once and answered as it is (connectors/http.py) sends what werkzeug's own
Response sends for it, answer after answer."""

from __future__ import annotations

from flask import Response
from werkzeug.test import EnvironBuilder

from deskbridge.connectors.http import _AnsweredAsIs


def wsgi_answer(response: Response, method: str) -> tuple:
    environ = EnvironBuilder(path="/webhooks/zendesk", method=method).get_environ()
    started = []
    body = b"".join(response(environ, lambda status, headers: started.append((status, headers))))
    return started, body


def test_answered_as_is_sends_what_werkzeug_sends_every_time():
    content = b'{"events":1,"status":"accepted"}\n'
    kept = _AnsweredAsIs(content, content_type="application/json")
    for method in ("POST", "POST", "HEAD", "POST"):
        fresh = Response(content, content_type="application/json")
        assert wsgi_answer(kept, method) == wsgi_answer(fresh, method)
