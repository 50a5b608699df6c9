"""XML elements named like secrets: attributes, namespaces and CDATA content (review leak 1).

``<password type="str">x</password>`` and ``<password><![CDATA[x]]></password>`` were left
as they were. Each form is checked on both prefilter paths (the warm-up's literals and
hyperscan's database), against the full scan, redacted again, and inside a block of lines.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st
from tests._helpers import redaction_scan_path

from hardenkit.redaction._engine import full_scan, redact

# Compared with full_scan, which knows no registered value (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("no_registered_secrets")

_PATHS = ("warm-up", "hyperscan")


_path = redaction_scan_path


def _check(text: str, expected: str) -> None:
    """``text`` gives ``expected`` on both paths, alone and among lines, and stays so."""
    for path in _PATHS:
        with _path(path):
            assert redact(text) == expected, (path, text)
            assert redact(expected) == expected, (path, text)  # idempotent
            block = f"first line\n{text}\nlast password=hunter22 line"
            assert redact(block) == f"first line\n{expected}\nlast password=*** line", path
    assert full_scan(text) == expected


_SECRET_TAGS = ("password", "db_password", "ns:password", "apiKey", "x:client_secret", "PASSWD")
_ATTRS = (
    ' type="str"',
    " type='str'",
    ' xmlns:ns="urn:x" ns:kind="a>b"',  # a ">" inside a quoted attribute value
    " encrypted=false",  # unquoted (HTML-style)
    '\n    type="str"\n',  # across lines
    " ",
    "",
)
_VALUES = ("Xk9vQ2zzHunt3r", "p@ss w0rd!&amp;", "a]b]]c", "line1\nline2")


@pytest.mark.parametrize("tag", _SECRET_TAGS)
@pytest.mark.parametrize("attrs", _ATTRS)
@pytest.mark.parametrize("value", _VALUES)
def test_text_content_is_masked_whatever_the_attributes(tag: str, attrs: str, value: str) -> None:
    _check(f"<{tag}{attrs}>{value}</{tag}>", f"<{tag}{attrs}>***</{tag}>")


@pytest.mark.parametrize("tag", _SECRET_TAGS)
@pytest.mark.parametrize("attrs", _ATTRS)
@pytest.mark.parametrize("value", [*_VALUES, "<b>not markup</b>", "a]x"])
@pytest.mark.parametrize("blank", ["", "\n  "])
def test_cdata_content_is_masked_inside_its_wrapper(
    tag: str, attrs: str, value: str, blank: str
) -> None:
    text = f"<{tag}{attrs}>{blank}<![CDATA[{value}]]>{blank}</{tag}>"
    _check(text, f"<{tag}{attrs}>{blank}<![CDATA[***]]>{blank}</{tag}>")


@pytest.mark.parametrize(
    "text",
    [
        '<user type="str">bob</user>',  # no secret name
        '<add key="Password" value="hunter2"/>',  # attribute values: not covered
        '<password value="x"/>',
        "<password />",
        "<password>true</password>",  # a benign value
        "<password><![CDATA[]]></password>",
        "<password>***</password>",
        "<password><![CDATA[***]]></password>",
        "<password><child>x</child></password>",  # not a simple element
        "<password>a<![CDATA[b]]></password>",  # text and CDATA mixed: not read
        "<password><![CDATA[x]]></token>",  # mismatched closing tag
        "<author>Jane Doe</author> <passwordPolicy minLength=8 />",
    ],
)
def test_left_as_it_is(text: str) -> None:
    _check(text, text)


def test_elements_side_by_side_and_across_lines() -> None:
    text = (
        '<cfg>\n<password type="str">\n  Xk9vQ2zzHunt3r\n</password><user>bob</user>'
        "<token><![CDATA[\nab<c>\n]]></token>\n<x:secret a='1'>s3cr3t</x:secret>\n</cfg>"
    )
    expected = (
        '<cfg>\n<password type="str">***</password><user>bob</user>'
        "<token><![CDATA[***]]></token>\n<x:secret a='1'>***</x:secret>\n</cfg>"
    )
    _check(text, expected)


_tags = st.sampled_from(["password", "token", "ns:pwd", "user", "secret_key", "a"])
_attr = st.sampled_from(["", " ", ' t="v"', " t='>'", " t=v", "\n t='x'", ' t="<"', " /"])
_body = st.sampled_from(["", "x1", "<![CDATA[", "]]>", "<![CDATA[s<e>]]>", "\n", " ", "***"])
_noise = st.sampled_from(["<", ">", "</", "\n", '"', "'", "]]>", "<![CDATA[", "x", " "])


@st.composite
def _xml_texts(draw: st.DrawFn) -> str:
    parts: list[str] = []
    for _ in range(draw(st.integers(min_value=1, max_value=5))):
        tag, close = draw(_tags), draw(st.one_of(_tags, st.just("")))
        closing = f"</{close or tag}>" if draw(st.booleans()) else ""
        parts.append(f"<{tag}{draw(_attr)}>{draw(_body)}{draw(_body)}{closing}")
        parts.extend(draw(st.lists(_noise, max_size=3)))
    return "".join(parts)


@settings(max_examples=600, deadline=None)
@given(_xml_texts())
def test_generated_xml_equals_every_detector_and_is_idempotent(text: str) -> None:
    expected = full_scan(text)
    assert full_scan(expected) == expected
    for path in _PATHS:
        with _path(path):
            assert redact(text) == expected, path
            lines = text.split("\n")
            assert redact("a\n" + text + "\nb") == "a\n" + expected + "\nb", (path, lines)
