"""The SOAP acknowledgement Salesforce waits for (protocols.md §2.1): one Ack covers every
notification in the message, and is sent only after all of them are stored."""

from __future__ import annotations

ACK = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">\n'
    " <soapenv:Body>\n"
    '  <notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound">\n'
    "   <Ack>true</Ack>\n"
    "  </notificationsResponse>\n"
    " </soapenv:Body>\n"
    "</soapenv:Envelope>\n"
)
CONTENT_TYPE = "text/xml; charset=utf-8"


def build_ack() -> bytes:
    return ACK.encode()
