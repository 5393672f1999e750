"""Capture: the certificate of a load balancer's HTTPS/TLS listener, for each recovery region.

ACM certificates are regional: a load balancer uses only a certificate of its own region, and
none can be copied to another. So `CertificateArn` is written per region
(`{per_region: {<home>: production's ARN, <recovery region>: "REPLACE-ME: ..."}}`), and the
Note names the certificate's domains and the exact AWS CLI command that makes its twin in each
recovery region: `request-certificate` for one ACM issued, `import-certificate` for one
imported. The certificate is read with `acm:DescribeCertificate` in the home region; a refusal
is said in the Note, never a failure of the capture. An IAM server certificate is global: its
ARN is written as it is."""

from __future__ import annotations

from shlex import quote
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from relight.capture.common import Note

PLACEHOLDER = "REPLACE-ME"  # a value starting with it is refused at render, naming what to put


def certificate_value(
    acm: Any, arn: str, where: str, prop: str, recovery_regions: list[str]
) -> tuple[Any, Note]:
    """The file's `CertificateArn` for production's certificate `arn`, and the Note that says
    what to do in each recovery region."""
    parts = arn.split(":")
    service, home = (parts[2], parts[3]) if len(parts) > 5 else ("", "")
    if service == "iam":
        return arn, Note(
            where,
            prop,
            f"{arn} is an IAM server certificate: IAM is global, so every region's load "
            "balancer can use it as it is",
        )
    regions = [r for r in recovery_regions if r != home]
    try:
        cert = acm.describe_certificate(CertificateArn=arn)["Certificate"]
    except (ClientError, BotoCoreError) as exc:
        code = exc.response["Error"]["Code"] if isinstance(exc, ClientError) else type(exc).__name__
        value = {
            "per_region": {
                home: arn,
                **{
                    r: f"{PLACEHOLDER}: the ARN of a certificate in {r} for {arn}'s domains"
                    for r in regions
                },
            }
        }
        return value, Note(
            where,
            prop,
            f"{arn} could not be read (acm:DescribeCertificate in {home}: {code}), so its "
            "domains are not known here: ACM certificates are regional: in each recovery region "
            f"({', '.join(regions)}) request or import one for the same domains and write its "
            "ARN at CertificateArn.per_region.<region>",
            unread=True,
        )
    domain = str(cert.get("DomainName", ""))
    # AWS lists the names in the order they were requested, the domain name among them
    names = list(dict.fromkeys([domain, *cert.get("SubjectAlternativeNames", [])]))
    kind = str(cert.get("Type", "AMAZON_ISSUED"))
    value = {
        "per_region": {
            home: arn,
            **{
                r: f"{PLACEHOLDER}: the ARN of an ACM certificate in {r} for {domain}"
                for r in regions
            },
        }
    }
    commands = "; ".join(f"{r}: `{_command(kind, r, names)}`" for r in regions)
    how = {
        "IMPORTED": "imported into ACM: import the same certificate, key and chain",
        "PRIVATE": "issued by your private CA: request one from a private CA there",
    }.get(kind, "issued by ACM: request one and validate it (DNS)")
    return value, Note(
        where,
        prop,
        f"{arn} ({kind}) is for {', '.join(names)}. ACM certificates are regional: a load "
        f"balancer uses only one of its own region, so {how} in each recovery region and "
        f"write its ARN at CertificateArn.per_region.<region>: {commands}",
    )


def _command(kind: str, region: str, names: list[str]) -> str:
    if kind == "IMPORTED":
        return (
            f"aws acm import-certificate --region {region} --certificate fileb://certificate.pem "
            "--private-key fileb://private-key.pem --certificate-chain fileb://certificate-chain.pem"
        )
    # each name quoted for the shell: a wildcard name (*.example.com) is otherwise expanded
    # by the shell into whatever files match it in the directory the command is pasted in
    command = f"aws acm request-certificate --region {region} --domain-name {quote(names[0])}"
    if len(names) > 1:
        command += f" --subject-alternative-names {' '.join(quote(n) for n in names[1:])}"
    if kind == "PRIVATE":  # the CA's ARN is the person's to give: a word the shell leaves be
        return command + f" --certificate-authority-arn PRIVATE_CA_ARN_IN_{region}"
    return command + " --validation-method DNS"
