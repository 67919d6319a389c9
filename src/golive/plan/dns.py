"""The offline rules of a `dns:` step and a `dns` check: names, types and values that
dnspython can read, and a name inside its zone. Pure: no network (`golive check` stays
offline); whether the zone exists is for the run and for readiness to find out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import dns.name
    import dns.rdatatype

    from golive.plan.models import DnsCheck

# Types a go-live switches; SOA and NS belong to the zone's own management, not to a cutover.
UNSUPPORTED = ("SOA", "ANY", "AXFR", "IXFR", "OPT", "TSIG", "TKEY", "NONE", "MAILA", "MAILB")


def absolute(text: str, *, what: str) -> dns.name.Name:
    """`text` as an absolute DNS name; ValueError saying what is wrong with it."""
    import dns.exception
    import dns.name

    try:
        return dns.name.from_text(text.strip())
    except dns.exception.DNSException as exc:
        raise ValueError(f"{what} {text!r} is not a DNS name: {_reason(exc)}") from None


def record_name(zone: dns.name.Name, name: str) -> dns.name.Name:
    """The absolute name of `name` in `zone` (`@` is the zone; `www` is www.ZONE; a name
    ending in a dot is taken as it is)."""
    import dns.exception
    import dns.name

    text = name.strip()
    try:
        if text == "@":
            return zone
        return dns.name.from_text(text, origin=zone)
    except dns.exception.DNSException as exc:
        raise ValueError(f"name {name!r} is not a DNS name: {_reason(exc)}") from None


def record_type(text: str) -> dns.rdatatype.RdataType:
    import dns.rdatatype

    try:
        found = dns.rdatatype.from_text(text.strip().upper())
    except (dns.rdatatype.UnknownRdatatype, ValueError):
        raise ValueError(
            f"unknown record type {text!r}: use A, AAAA, CNAME, TXT, MX, SRV, CAA..."
        ) from None
    if dns.rdatatype.to_text(found) in UNSUPPORTED or dns.rdatatype.is_metatype(found):
        raise ValueError(f"record type {text!r} cannot be set by a dns step")
    return found


def check_values(
    kind: dns.rdatatype.RdataType, values: list[str], *, origin: dns.name.Name | None
) -> None:
    import dns.exception
    import dns.rdata
    import dns.rdataclass
    import dns.rdatatype

    for value in values:
        try:
            dns.rdata.from_text(dns.rdataclass.IN, kind, value, origin=origin)
        except (dns.exception.DNSException, ValueError) as exc:
            shown = dns.rdatatype.to_text(kind)
            raise ValueError(f"{value!r} is not a valid {shown} value: {_reason(exc)}") from None
    if kind == dns.rdatatype.CNAME and len(values) > 1:
        raise ValueError("a CNAME has exactly one value")


def check_dns_field(field: str, value: Any, earlier: dict[str, Any]) -> None:
    """Raise ValueError for a dns step's `name`, `type` or `values` that cannot be right,
    whatever the server says (`earlier`: the fields before it that are valid)."""
    import dns.rdatatype

    if "zone" not in earlier:
        return  # the zone's own error says it
    zone = absolute(earlier["zone"], what="zone")
    if field == "name":
        name = record_name(zone, value)
        if not name.is_subdomain(zone):
            raise ValueError(
                f"name {name.to_text()} is outside the zone {zone.to_text()}: "
                "write it relative to the zone (www), or change zone:"
            )
    elif field == "type":
        kind = record_type(value)
        apex = "name" in earlier and record_name(zone, earlier["name"]) == zone
        if apex and kind == dns.rdatatype.CNAME:
            raise ValueError("a zone's apex cannot be a CNAME: use A/AAAA records")
    elif field == "values" and "type" in earlier:
        check_values(record_type(earlier["type"]), value, origin=zone)


def check_dns_check(check: DnsCheck) -> None:
    absolute(check.dns, what="name")
    check_values(record_type(check.type), check.expect, origin=None)


def _reason(exc: Exception) -> str:
    text = str(exc).strip().rstrip(".")
    return text[:1].lower() + text[1:] if text else type(exc).__name__
