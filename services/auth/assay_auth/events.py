"""Events the auth service publishes (payloads in `assay_common.events.schemas.auth`) and those
it consumes."""

from assay_common.events.schemas.auth import (
    ApiKeyCreated,
    ApiKeyRevoked,
    BiscuitIssued,
    BiscuitRevocationRecorded,
    BiscuitRevoked,
    BiscuitRootKeyRetired,
    BiscuitRootKeyRotated,
    CredentialsRevoked,
    LoggedOut,
    LoginFailed,
    LoginSucceeded,
    LoginThrottled,
    PasskeyAdded,
    PasskeyRemoved,
    PasskeyRenamed,
    PasswordChanged,
    PasswordRecoveryRequested,
    PasswordReset,
    PermissionSchemaChanged,
    PermissionSchemaWritten,
    RecoveryRequested,
    RelationshipsChanged,
    RelationshipsWritten,
    SessionsRevoked,
    SigningKeyRotated,
    TokenIssued,
    UserCreated,
    UserDeleted,
    UserDisabled,
    UserEnabled,
    UserUpdated,
)
from assay_common.events.schemas.workflow import NamespaceCreated, NamespaceDeleted

#: Domain events, on the events stream.
PUBLISHES = (
    PasswordRecoveryRequested,
    CredentialsRevoked,
    BiscuitRevoked,
    RelationshipsChanged,
    PermissionSchemaChanged,
)
#: Audit records, on the audit stream; the service also consumes them into its audit log.
AUDITS = (
    LoginSucceeded,
    LoginFailed,
    LoginThrottled,
    LoggedOut,
    SessionsRevoked,
    PasswordChanged,
    PasswordReset,
    RecoveryRequested,
    ApiKeyCreated,
    ApiKeyRevoked,
    UserCreated,
    UserUpdated,
    UserDisabled,
    UserEnabled,
    UserDeleted,
    SigningKeyRotated,
    TokenIssued,
    PasskeyAdded,
    PasskeyRenamed,
    PasskeyRemoved,
    BiscuitRootKeyRotated,
    BiscuitRootKeyRetired,
    BiscuitIssued,
    BiscuitRevocationRecorded,
    PermissionSchemaWritten,
    RelationshipsWritten,
)
#: Its own audit records (into the audit log) and the workflow service's namespace events (which
#: link namespaces to the platform in the permission store: `domain/platform_links.py`).
CONSUMES = (*AUDITS, NamespaceCreated, NamespaceDeleted)
