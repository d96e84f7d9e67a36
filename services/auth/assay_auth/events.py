"""Events the auth service publishes (payloads in `assay_common.events.schemas.auth`)."""

from assay_common.events.schemas.auth import (
    ApiKeyCreated,
    ApiKeyRevoked,
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
    RecoveryRequested,
    SessionsRevoked,
    SigningKeyRotated,
    TokenIssued,
    UserCreated,
    UserDeleted,
    UserDisabled,
    UserEnabled,
    UserUpdated,
)

#: Domain events, on the events stream.
PUBLISHES = (PasswordRecoveryRequested, CredentialsRevoked)
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
)
CONSUMES = AUDITS
