"""A fixed corpus of malformed Salesforce requests (issue 14): Outbound Messages (SOAP/XML) and
Flow callouts (JSON) that are truncated, expand entities, carry DTDs, use the wrong namespaces,
lack the org or the sObject, carry huge ids, NUL bytes, a wrong Content-Type or bad dates.

Each case is (name, body, headers, status, answer): the answer every one of them must get, a
4xx whose JSON names the problem (and the field, where there is one)."""

from __future__ import annotations

import json

from tests.conftest import fixture_bytes

ORG = "00D5j00000HqZtxEAF"  # the fixture's organization: the deskbridge's own org
TOKEN = "callout-token-for-the-corpus"
XML = fixture_bytes("outbound_message__two_cases.xml").decode()
SOAP = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}
JSON = {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}
FIRST = "notifications.Notification[0]"
CASE = f"{FIRST}.sObject"
SF_ID = "expected a 15- or 18-character Salesforce id"
REFUSED_XML = "refused XML: {} (DTDs and entities are not accepted)"
EXPECTED_TIME = (
    "expected a time as 2026-12-05T21:57:00Z (ISO 8601, as Outbound Messages send it) or "
    "2026-12-05 21:57:00Z (as TEXT() writes a Date/Time in a Flow formula)"
)


def flow_formula(name: str) -> str:
    """What a Flow callout's refused time adds: the formula that writes the field."""
    return f"; in the Flow, set it to a formula resource of type Text, TEXT({{!$Record.{name}}})"


def xml_with(old: str, new: str, count: int = 1) -> bytes:
    assert old in XML, old
    return XML.replace(old, new, count).encode()


def case_field(name: str, value: str) -> bytes:
    """The fixture with the first Case's `name` set to `value` (raw XML)."""
    start = XML.index(f"<sf:{name}>") + len(f"<sf:{name}>")
    end = XML.index(f"</sf:{name}>", start)
    return (XML[:start] + value + XML[end:]).encode()


def without(element: str) -> bytes:
    """The fixture without the first `<element …>…</element>` (or `<element/>`)."""
    start = XML.index(f"<{element}")
    closing = f"</{element}>"
    end = XML.index(closing, start) + len(closing)
    return (XML[:start] + XML[end:]).encode()


CALLOUT = {
    "organizationId": ORG,
    "notifications": [
        {
            "id": "04l5j00001Mzd3KAAR",
            "type": "Case",
            "fields": {
                "Id": "5005j00000TqW8hAAF",
                "Subject": "Parcel late",
                "Status": "New",
                "Priority": "High",
                "CreatedDate": "2025-03-04T09:00:00.000Z",
                "LastModifiedDate": "2025-03-04T09:00:00.000Z",
                "OwnerId": "0055j00000F3x9QAAR",
            },
        }
    ],
}


def callout(**changes) -> bytes:
    """The callout with changes: `organizationId=…`, or `fields__Name=…` in the first
    notification's fields, or `notification__key=…` in the first notification."""
    data = json.loads(json.dumps(CALLOUT))
    first = data["notifications"][0]
    for path, value in changes.items():
        where, _, name = path.partition("__")
        target = {"fields": first["fields"], "notification": first}.get(where, data)
        key = name or where
        if value is None:
            target.pop(key)
        else:
            target[key] = value
    return json.dumps(data).encode()


BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
    + "".join(
        f' <!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n'
        for i in range(1, 10)
    )
    + "]>\n<lolz>&lol9;</lolz>"
).encode()
QUADRATIC_BLOWUP = (
    '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "'
    + "a" * 50_000
    + '">]><x>'
    + "&a;" * 1000
    + "</x>"
).encode()
XXE = xml_with(
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE e [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
).replace(b"<sf:Subject>Invoice export returns 502", b"<sf:Subject>&xxe;")
EXTERNAL_DTD = xml_with(
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<!DOCTYPE soapenv:Envelope SYSTEM "http://127.0.0.1:9/soap.dtd">',
)
PARAMETER_ENTITY = (
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY % p SYSTEM "http://127.0.0.1:9/p.dtd"> %p;]><x/>'
)
NOT_ENVELOPE = (
    "not an outbound message: no soapenv:Body/notifications",
    "Envelope.Body.notifications",
)


def refused(name: str) -> dict:
    return whole_body(REFUSED_XML.format(name))


def whole_body(error: str) -> dict:
    """A 400 about the body as a whole (not UTF-8, not XML or JSON at all)."""
    return {"error": error, "field": "body"}


def missing(field: str) -> dict:
    return {"error": "required field is missing", "field": field}


def bad(error: str, field: str) -> dict:
    return {"error": error, "field": field}


def envelope_error() -> dict:
    return {"error": NOT_ENVELOPE[0], "field": NOT_ENVELOPE[1]}


CASES: list[tuple[str, bytes, dict[str, str], int, dict]] = [
    # -- not XML at all, or not all of it -------------------------------------------------
    # Said as what it is: it was "invalid XML: no element found: line 1, column 0".
    ("empty body", b"", SOAP, 400, whole_body("body is empty")),
    ("blank lines", b"\r\n\r\n", SOAP, 400, whole_body("body is empty")),
    ("empty callout", b" ", JSON, 400, whole_body("body is empty")),
    (
        "truncated mid-element",
        XML[: XML.index("<sf:Subject>") + 20].encode(),
        SOAP,
        400,
        whole_body("invalid XML: no element found: line 26, column 25"),
    ),
    (
        "truncated after the notifications",
        XML[: XML.index("</notifications>")].encode(),
        SOAP,
        400,
        whole_body("invalid XML: no element found: line 49, column 2"),
    ),
    (
        "unclosed tag at the end",
        XML.encode() + b"<",
        SOAP,
        400,
        whole_body("invalid XML: unclosed token: line 52, column 0"),
    ),
    (
        "NUL byte in the body",
        XML.replace("Invoice export", "Invoice\x00export").encode(),
        SOAP,
        400,
        whole_body("invalid XML: not well-formed (invalid token): line 26, column 24"),
    ),
    (
        "NUL as a character reference",
        case_field("Subject", "Invoice&#0;export"),
        SOAP,
        400,
        whole_body("invalid XML: reference to invalid character number: line 26, column 24"),
    ),
    (
        "not UTF-8 as declared",
        XML.replace("Invoice export", "Invoice\xe9export").encode("latin-1"),
        SOAP,
        400,
        whole_body("not UTF-8 text (byte 1386)"),
    ),
    (
        "deeply nested elements",
        b"<a>" * 100_000 + b"</a>" * 100_000,
        SOAP,
        400,
        envelope_error(),
    ),
    # -- entities and DTDs (defusedxml refuses them all) ----------------------------------
    ("billion laughs", BILLION_LAUGHS, SOAP, 400, refused("DTDForbidden")),
    ("quadratic blowup", QUADRATIC_BLOWUP, SOAP, 400, refused("DTDForbidden")),
    ("external entity (XXE)", XXE, SOAP, 400, refused("DTDForbidden")),
    ("external DTD", EXTERNAL_DTD, SOAP, 400, refused("DTDForbidden")),
    ("parameter entity", PARAMETER_ENTITY, SOAP, 400, refused("DTDForbidden")),
    # -- the wrong document -----------------------------------------------------------------
    (
        "SOAP 1.2 envelope namespace",
        xml_with(
            "http://schemas.xmlsoap.org/soap/envelope/", "http://www.w3.org/2003/05/soap-envelope"
        ),
        SOAP,
        400,
        envelope_error(),
    ),
    (
        "notifications in another namespace",
        xml_with("http://soap.sforce.com/2005/09/outbound", "http://soap.sforce.com/2099/outbound"),
        SOAP,
        400,
        envelope_error(),
    ),
    (
        "no namespaces",
        b"<Envelope><Body><notifications/></Body></Envelope>",
        SOAP,
        400,
        envelope_error(),
    ),
    ("an HTML page", b"<html><body>502 Bad Gateway</body></html>", SOAP, 400, envelope_error()),
    # -- the org ----------------------------------------------------------------------------
    (
        "no OrganizationId",
        without("OrganizationId"),
        SOAP,
        400,
        missing("notifications.OrganizationId"),
    ),
    (
        "empty OrganizationId",
        xml_with(f"<OrganizationId>{ORG}</OrganizationId>", "<OrganizationId/>"),
        SOAP,
        400,
        missing("notifications.OrganizationId"),
    ),
    (
        "another org",
        xml_with(ORG, "00D000000000001AAA"),
        SOAP,
        403,
        bad(
            "organization id is not this deskbridge's Salesforce org",
            "notifications.OrganizationId",
        ),
    ),
    (
        "OrganizationId of 100,000 characters",
        xml_with(ORG, ORG * 5556),
        SOAP,
        400,
        bad(SF_ID, "notifications.OrganizationId"),
    ),
    # -- notifications and their sObjects -----------------------------------------------------
    (
        "no Notification",
        xml_with(XML[XML.index("<Notification>") : XML.index("</notifications>")], ""),
        SOAP,
        400,
        bad("no Notification in the message", "notifications.Notification"),
    ),
    (
        "101 notifications",
        xml_with(
            XML[XML.index("<Notification>") : XML.index("</Notification>") + 15],
            XML[XML.index("<Notification>") : XML.index("</Notification>") + 15] * 101,
        ),
        SOAP,
        400,
        bad("more than 100 notifications", "notifications.Notification"),
    ),
    ("no sObject", without("sObject"), SOAP, 400, missing(f"{FIRST}.sObject")),
    (
        "no notification Id",
        xml_with("<Id>04l5j00001Mzd3KAAR</Id>", ""),
        SOAP,
        400,
        missing(f"{FIRST}.Id"),
    ),
    (
        "notification Id of 100,000 characters",
        xml_with("<Id>04l5j00001Mzd3KAAR</Id>", "<Id>" + "4" * 100_000 + "</Id>"),
        SOAP,
        400,
        bad("longer than 200 characters", f"{FIRST}.Id"),
    ),
    (
        "no case Id",
        xml_with("<sf:Id>5005j00000TqW8hAAF</sf:Id>", ""),
        SOAP,
        400,
        missing(f"{CASE}.Id"),
    ),
    (
        "case Id of 100,000 characters",
        case_field("Id", "5" * 100_000),
        SOAP,
        400,
        bad(SF_ID, f"{CASE}.Id"),
    ),
    (
        "case Id with a NUL",
        case_field("Id", "5005j00000TqW8h&#x0;"),
        SOAP,
        400,
        whole_body("invalid XML: reference to invalid character number: line 13, column 27"),
    ),
    (
        "case Id with a newline",
        case_field("Id", "5005j0000\n0TqW8hAAF"),
        SOAP,
        400,
        bad(SF_ID, f"{CASE}.Id"),
    ),
    (
        "owner id a path",
        case_field("OwnerId", "../../../../etc/pass"),
        SOAP,
        400,
        bad(SF_ID, f"{CASE}.OwnerId"),
    ),
    # -- dates --------------------------------------------------------------------------------
    (
        "modified date not a date",
        case_field("LastModifiedDate", "yesterday"),
        SOAP,
        400,
        bad(EXPECTED_TIME, f"{CASE}.LastModifiedDate"),
    ),
    (
        "modified date without a zone",
        case_field("LastModifiedDate", "2025-03-04T10:21:40"),
        SOAP,
        400,
        bad(f"time has no timezone: {EXPECTED_TIME}", f"{CASE}.LastModifiedDate"),
    ),
    (
        "modified on 30 February",
        case_field("LastModifiedDate", "2025-02-30T10:21:40.000Z"),
        SOAP,
        400,
        bad(EXPECTED_TIME, f"{CASE}.LastModifiedDate"),
    ),
    (
        "created in year 1",
        case_field("CreatedDate", "0001-01-01T00:00:00.000Z"),
        SOAP,
        400,
        bad("time out of range (2000-2099)", f"{CASE}.CreatedDate"),
    ),
    (
        "modified in year 9999",
        case_field("LastModifiedDate", "9999-12-31T23:59:59.999Z"),
        SOAP,
        400,
        bad("time out of range (2000-2099)", f"{CASE}.LastModifiedDate"),
    ),
    (
        "no modified date",
        xml_with("<sf:LastModifiedDate>2025-03-04T10:21:40.000Z</sf:LastModifiedDate>", ""),
        SOAP,
        400,
        missing(f"{CASE}.LastModifiedDate"),
    ),
    (
        "IsClosed not a boolean",
        case_field("IsClosed", "maybe"),
        SOAP,
        400,
        bad("expected true or false", f"{CASE}.IsClosed"),
    ),
    # -- the wrong Content-Type: the body decides the format, and is refused as that --------
    (
        "form-encoded",
        b"OrganizationId=" + ORG.encode() + b"&Id=5005j00000TqW8hAAF",
        {"Content-Type": "application/x-www-form-urlencoded"},
        400,
        whole_body("invalid XML: not well-formed (invalid token): line 1, column 14"),
    ),
    (
        "truncated XML labelled JSON",
        XML[:200].encode(),
        {"Content-Type": "application/json"},
        400,
        whole_body("invalid XML: unclosed token: line 2, column 0"),
    ),
    (
        "multipart",
        b"--b\r\nContent-Disposition: form-data; name=x\r\n\r\n<x/>\r\n--b--\r\n",
        {"Content-Type": "multipart/form-data; boundary=b"},
        400,
        whole_body("invalid XML: syntax error: line 1, column 0"),
    ),
    # -- Flow callouts (JSON) -------------------------------------------------------------------
    (
        "callout truncated",
        callout()[:60],
        JSON,
        400,
        whole_body(
            "invalid JSON: Expecting property name enclosed in double quotes at line 1 column 61"
        ),
    ),
    (
        "callout not UTF-8",
        callout().replace(b"Parcel", b"Parc\xe9l"),
        JSON,
        400,
        whole_body("not UTF-8 text (byte 159)"),
    ),
    (
        "callout a list",
        b"[" + callout() + b"]",
        JSON,
        400,
        whole_body("body must be a JSON object"),
    ),
    ("callout without the org", callout(organizationId=None), JSON, 400, missing("organizationId")),
    (
        "callout from another org",
        callout(organizationId="00D000000000001AAA"),
        JSON,
        403,
        bad("organization id is not this deskbridge's Salesforce org", "organizationId"),
    ),
    (
        "callout org a number",
        callout(organizationId=17),
        JSON,
        400,
        bad("expected a string, got a number", "organizationId"),
    ),
    (
        "callout without notifications",
        callout(notifications=None),
        JSON,
        400,
        bad("expected a non-empty list", "notifications"),
    ),
    (
        "callout without fields",
        callout(notification__fields=None),
        JSON,
        400,
        bad("expected an object", "notifications[0].fields"),
    ),
    (
        "callout without a type",
        callout(notification__type=None),
        JSON,
        400,
        missing("notifications[0].type"),
    ),
    (
        "callout case id huge",
        callout(fields__Id="5" * 100_000),
        JSON,
        400,
        bad(SF_ID, "notifications[0].fields.Id"),
    ),
    (
        "callout case id with a NUL",
        callout(fields__Id="5005j00000TqW8h\u0000"),
        JSON,
        400,
        bad(SF_ID, "notifications[0].fields.Id"),
    ),
    (
        "callout in month 13 (a NUL in the subject is kept)",
        callout(fields__Subject="a\u0000b", fields__LastModifiedDate="2025-13-01T00:00:00Z"),
        JSON,
        400,
        bad(
            EXPECTED_TIME + flow_formula("LastModifiedDate"),
            "notifications[0].fields.LastModifiedDate",
        ),
    ),
    (
        # A Date/Time merge field in a text template: the user's locale and time zone.
        "callout date as a user's locale shows it",
        callout(fields__LastModifiedDate="12/5/2026 9:57 PM"),
        JSON,
        400,
        bad(
            EXPECTED_TIME + ", not as a user's locale shows it (12/5/2026 9:57 PM), which "
            "names no time zone" + flow_formula("LastModifiedDate"),
            "notifications[0].fields.LastModifiedDate",
        ),
    ),
    (
        "callout date as TEXT() writes it, without its Z",
        callout(fields__CreatedDate="2025-03-04 09:00:00"),
        JSON,
        400,
        bad(
            f"time has no timezone: {EXPECTED_TIME}" + flow_formula("CreatedDate"),
            "notifications[0].fields.CreatedDate",
        ),
    ),
    (
        "callout date a number",
        callout(fields__LastModifiedDate=1741080000),
        JSON,
        400,
        bad(
            EXPECTED_TIME + flow_formula("LastModifiedDate"),
            "notifications[0].fields.LastModifiedDate",
        ),
    ),
    (
        "callout nested too deeply",
        b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
        JSON,
        400,
        whole_body("body is nested too deeply"),
    ),
    (
        "callout without the bearer token",
        callout(),
        {"Content-Type": "application/json"},
        401,
        bad(
            "missing bearer token: a Flow callout must send Authorization: Bearer "
            "<SALESFORCE_WEBHOOK_TOKEN>",
            "Authorization",
        ),
    ),
    # -- found by this corpus: 500 before (the XML parsed, the body could not be stored) ---
    (
        "XML declared ISO-8859-1",
        xml_with('encoding="UTF-8"', 'encoding="ISO-8859-1"').replace(
            b"Invoice export", "Invoice \xe9xport".encode("latin-1")
        ),
        SOAP,
        400,
        whole_body("not UTF-8 text (byte 1392)"),
    ),
    (
        "XML in UTF-16",
        XML.replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16"),
        SOAP,
        400,
        whole_body("not UTF-8 text (byte 0)"),
    ),
    # -- found by this corpus: accepted before (stored, or org-checked on 15 characters) ----
    (
        "callout notification id with a NUL",
        callout(notification__id="04l5j00001Mzd3K\u0000"),
        JSON,
        400,
        bad("contains a control character (\\x00)", "notifications[0].id"),
    ),
    (
        "callout org id with a NUL after 15 characters",
        callout(organizationId=ORG[:15] + "\u0000AF"),
        JSON,
        400,
        bad(SF_ID, "organizationId"),
    ),
    (
        "callout status with a NUL",
        callout(fields__Status="New\u0000"),
        JSON,
        400,
        bad("contains a control character (\\x00)", "notifications[0].fields.Status"),
    ),
    (
        "status with a tab",
        case_field("Status", "Esc\talated"),
        SOAP,
        400,
        bad("contains a control character (\\t)", f"{CASE}.Status"),
    ),
    (
        "callout subject an object",
        callout(fields__Subject={"text": "Parcel late"}),
        JSON,
        400,
        bad("expected a text, number or boolean value", "notifications[0].fields.Subject"),
    ),
    (
        "callout type of 100,000 characters",
        callout(notification__type="C" * 100_000),
        JSON,
        400,
        bad("longer than 255 characters", "notifications[0].type"),
    ),
    # -- more of the same families -------------------------------------------------------
    (
        "callout notification id of 100,000 characters",
        callout(notification__id="4" * 100_000),
        JSON,
        400,
        bad("longer than 200 characters", "notifications[0].id"),
    ),
    (
        "callout subject a lone surrogate",
        callout(fields__Subject="\ud800"),
        JSON,
        400,
        bad(
            "contains a lone surrogate (\\ud800-\\udfff), which cannot be stored",
            "notifications[0].fields.Subject",
        ),
    ),
    (
        "callout with a byte-order mark (read as XML)",
        b"\xef\xbb\xbf" + callout(),
        JSON,
        400,
        whole_body("invalid XML: not well-formed (invalid token): line 1, column 1"),
    ),
    (
        "comment without its case",
        xml_with('xsi:type="sf:Case"', 'xsi:type="sf:CaseComment"'),
        SOAP,
        400,
        missing(f"{CASE}.ParentId"),
    ),
    (
        "CDATA with control characters",
        case_field("Subject", "<![CDATA[\x01\x02]]>"),
        SOAP,
        400,
        whole_body("invalid XML: not well-formed (invalid token): line 26, column 26"),
    ),
    (
        "priority of 1,000 characters",
        case_field("Priority", "P" * 1000),
        SOAP,
        400,
        bad("longer than 255 characters", f"{CASE}.Priority"),
    ),
    (
        "two case Ids, the second a path",
        xml_with(
            "<sf:Id>5005j00000TqW8hAAF</sf:Id>",
            "<sf:Id>5005j00000TqW8hAAF</sf:Id><sf:Id>../../x</sf:Id>",
        ),
        SOAP,
        400,
        bad(SF_ID, f"{CASE}.Id"),
    ),
]
