"""Translation of botocore errors from the bill sources into the project's exception tree."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from watchdog.errors import ExternalServiceError, PermanentServiceError, TransientServiceError


def translate_bill_error(
    service: str, operation: str, exc: ClientError | BotoCoreError, transient_codes: frozenset[str]
) -> ExternalServiceError:
    """Return the error to raise for ``exc``; codes in ``transient_codes`` are worth a later poll.

    NOTE: watchdog.aws_retry.translate_aws_error does the same for the
    metrics publisher with another message format and code list; the two
    could merge once their messages are aligned.
    """
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        detail = f"{code}: {error.get('Message', '')}".rstrip(": ")
        if code in transient_codes:
            return TransientServiceError(service, operation, detail)
        return PermanentServiceError(service, operation, detail)
    if isinstance(exc, NoCredentialsError):
        return PermanentServiceError(
            service, operation, "no AWS credentials found; give the host an instance role"
        )
    return TransientServiceError(service, operation, type(exc).__name__)
