"""The errors of the auth domain, with their machine-readable codes."""

from assay_common.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    TooManyRequests,
    Unauthorized,
    Unavailable,
)


class InvalidCredentials(Unauthorized):
    code = "invalid_credentials"
    title = "The email or password is not correct"


class NotSignedIn(Unauthorized):
    code = "not_signed_in"
    title = "Sign in first"


class InvalidSession(Unauthorized):
    code = "invalid_session"
    title = "The session is unknown or has ended"


class InvalidApiKey(Unauthorized):
    code = "invalid_api_key"
    title = "The API key is unknown, expired or revoked"


class AdminRequired(Forbidden):
    code = "admin_required"
    title = "Only an administrator may do this"


class UserSessionRequired(Forbidden):
    code = "user_session_required"
    title = "This needs a signed-in user (a browser session), not an API key or a service"


class ApiKeyRequired(Forbidden):
    code = "api_key_required"
    title = "This needs a request made with an API key"


class ServiceRequired(Forbidden):
    code = "service_required"
    title = "Only another Assay service may call this"


class CurrentPasswordIncorrect(Forbidden):
    code = "current_password_incorrect"
    title = "The current password is not correct"


class CannotChangeSelf(Conflict):
    code = "cannot_change_self"
    title = "An administrator cannot disable or delete themselves"


class LoginThrottled(TooManyRequests):
    code = "login_throttled"
    title = "Too many failed sign-ins; wait before trying again"

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"try again in {retry_after} s", retry_after=retry_after)
        self.retry_after = retry_after


class UserNotFound(NotFound):
    code = "user_not_found"
    title = "No such user"


class SessionNotFound(NotFound):
    code = "session_not_found"
    title = "No such session"


class ApiKeyNotFound(NotFound):
    code = "api_key_not_found"
    title = "No such API key"


class AlreadyBootstrapped(Conflict):
    code = "already_bootstrapped"
    title = "The platform has users already"


class AlreadySetUp(Conflict):
    code = "already_set_up"
    title = "The platform is set up already"


class EmailTaken(Conflict):
    code = "email_taken"
    title = "Another user has this email address"


class InvalidEmail(Invalid):
    code = "invalid_email"
    title = "Invalid email address"


class WeakPassword(Invalid):
    code = "weak_password"
    title = "The password does not meet the password policy"


class InvalidScopes(Invalid):
    code = "invalid_scopes"
    title = "Invalid API key scopes"


class InvalidExpiry(Invalid):
    code = "invalid_expiry"
    title = "The expiry must be in the future"


class InvalidCursor(Invalid):
    code = "invalid_cursor"
    title = "The cursor is not one this listing returned"


class InvalidRecoveryToken(BadRequest):
    code = "invalid_recovery_token"
    title = "The recovery token is unknown, used or expired"


class RecoveryUnavailable(Unavailable):
    code = "recovery_unavailable"
    title = "Password recovery is not configured"
