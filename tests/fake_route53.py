"""A fake Route 53 that refuses record changes as Route 53 does, where moto (5.2.5) accepts
them: a failover record beside a simple record of the same name and type, any record beside a
CNAME of the same name, a failover record beside a weighted, latency, geolocation or
multivalue record of the same name and type, a second record of a failover role. Names are kept
as Route 53 keeps them (lower case, a trailing dot, `*` as `\\052`); ListResourceRecordSets
pages as it does.

Texts: "Tried to create resource record set [...] but it already exists" (AnalogJ/lexicon#179,
barnybug/cli53#317), "RRSet of type A with DNS name ... is not permitted because a conflicting
RRSet of type CNAME with the same DNS name already exists in zone ..." (presslabs/zinc#178),
"RRSet with DNS name ..., type A, SetIdentifier ... cannot be created as a non-weighted set
exists with the same name and type." (as quoted around kubernetes-sigs/external-dns#1411).
For a second SECONDARY no text of AWS's was found: the fake's is marked as its own. A failover
record beside another policy's is refused with the non-weighted text turned to failover
("...a non-weighted set exists..." when a weighted record meets latency ones,
kubernetes-sigs/external-dns#4345): the exact words for failover were not found.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError


def _name(name: str) -> str:
    return name.lower().rstrip(".").replace("*", "\\052") + "."


def _refused(message: str) -> ClientError:
    error = {"Code": "InvalidChangeBatch", "Message": f"[{message}]", "Type": "Sender"}
    return ClientError({"Error": error}, "ChangeResourceRecordSets")


class FakeRoute53:
    def __init__(self, page_size: int = 300) -> None:
        self.zones: dict[str, str] = {}  # id → name
        self.records: dict[str, list[dict[str, Any]]] = {}
        self.calls: list[str] = []
        self.page_size = page_size
        self.fail: Exception | None = None  # raised by every call when set

    def zone(self, name: str) -> str:
        zone_id = f"/hostedzone/Z{len(self.zones) + 1:013d}"
        self.zones[zone_id] = _name(name)
        self.records[zone_id] = []
        return zone_id

    def _call(self, operation: str) -> None:
        self.calls.append(operation)
        if self.fail is not None:
            raise self.fail

    def list_hosted_zones_by_name(self, DNSName: str, MaxItems: str = "100") -> dict[str, Any]:
        self._call("ListHostedZonesByName")
        ordered = sorted((n, i) for i, n in self.zones.items() if n >= _name(DNSName))
        zones = [{"Id": i, "Name": n} for n, i in ordered[: int(MaxItems)]]
        return {"HostedZones": zones, "DNSName": DNSName}

    @staticmethod
    def _key(record: dict[str, Any]) -> tuple[str, str, str]:
        return (record["Name"], record["Type"], record.get("SetIdentifier", ""))

    def list_resource_record_sets(
        self,
        HostedZoneId: str,
        StartRecordName: str = "",
        StartRecordType: str = "",
        StartRecordIdentifier: str = "",
    ) -> dict[str, Any]:
        self._call("ListResourceRecordSets")
        start = (_name(StartRecordName) if StartRecordName else "", StartRecordType,
                 StartRecordIdentifier)  # fmt: skip
        ordered = sorted(self.records[HostedZoneId], key=self._key)
        after = [r for r in ordered if self._key(r) >= start]
        page, rest = after[: self.page_size], after[self.page_size :]
        answer: dict[str, Any] = {"ResourceRecordSets": page, "IsTruncated": bool(rest)}
        if rest:
            answer["NextRecordName"], answer["NextRecordType"] = rest[0]["Name"], rest[0]["Type"]
            if "SetIdentifier" in rest[0]:
                answer["NextRecordIdentifier"] = rest[0]["SetIdentifier"]
        return answer

    def change_resource_record_sets(self, HostedZoneId: str, ChangeBatch: Any) -> dict[str, Any]:
        self._call("ChangeResourceRecordSets")
        zone = self.zones[HostedZoneId]
        for change in ChangeBatch["Changes"]:
            record = {**change["ResourceRecordSet"]}
            record["Name"] = _name(record["Name"])
            if change["Action"] == "CREATE":
                self._refuse(zone, record, self.records[HostedZoneId])
            self.records[HostedZoneId].append(record)
        return {"ChangeInfo": {"Status": "PENDING"}}

    @staticmethod
    def _refuse(zone: str, new: dict[str, Any], existing: list[dict[str, Any]]) -> None:
        name, kind, ident = new["Name"], new["Type"], new.get("SetIdentifier")
        for old in (r for r in existing if r["Name"] == name):
            if old["Type"] == "CNAME" and kind != "CNAME":
                raise _refused(
                    f"RRSet of type {kind} with DNS name {name} is not permitted because a "
                    f"conflicting RRSet of type CNAME with the same DNS name already exists in "
                    f"zone {zone}"
                )
            if old["Type"] != kind:
                continue
            if old.get("SetIdentifier") == ident:
                which = f", set-identifier='{ident}'" if ident else ""
                raise _refused(
                    f"Tried to create resource record set [name='{name}', type='{kind}'{which}] "
                    "but it already exists"
                )
            if ident and "SetIdentifier" not in old:
                raise _refused(
                    f"RRSet with DNS name {name}, type {kind}, SetIdentifier {ident} cannot be "
                    "created as a non-weighted set exists with the same name and type."
                )
            if new.get("Failover") and "Failover" not in old:
                raise _refused(  # the text of the non-weighted refusal, for the failover policy
                    f"RRSet with DNS name {name}, type {kind}, SetIdentifier {ident} cannot be "
                    "created as a non-failover set exists with the same name and type."
                )
            if new.get("Failover") and old.get("Failover") == new["Failover"]:
                raise _refused(  # the fake's own words: AWS's text for this was not found
                    f"(fake) a {new['Failover']} failover record of {name} type {kind} exists"
                )
