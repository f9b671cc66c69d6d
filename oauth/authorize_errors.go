package oauth

import (
	"fmt"
	"regexp"
	"strconv"
)

// Messages recorded on the integration for the recruiter to read.
const (
	msgCancelled = "You left the Microsoft sign-in without connecting. If Microsoft said that an administrator must approve Wintro, " +
		"send your IT administrator the application ID and the admin consent link shown here. Otherwise click Connect to try again."
	msgDeclined = "You declined the permissions Wintro asked for. Wintro needs all of them to send Teams messages; click Connect to review them again."
	msgDenied   = "Microsoft denied Wintro access to your account. If you did not decline the permissions yourself, your organization may restrict " +
		"who can use Wintro: ask your IT administrator, and send them the application ID and the admin consent link shown here."
	msgAdminApproval = "Your organization requires an administrator to approve Wintro before you can connect. Send your IT administrator " +
		"the application ID and the admin consent link shown here; once they approve, click Connect again."
	msgInterrupted = "Microsoft needs you to sign in again (for example for multi-factor authentication). Click Connect to continue."
	msgUnavailable = "Microsoft's sign-in service is unavailable right now. Try again in a few minutes."
	msgRejected    = "Microsoft rejected Wintro's sign-in request. If your organization disabled or removed the Wintro app in Microsoft Entra, " +
		"ask your IT administrator to allow it; otherwise try again later, and contact Wintro support if it keeps failing."
)

var aadstsPattern = regexp.MustCompile(`^AADSTS(\d+):`)

// aadstsCode returns the AADSTS number that starts an error_description, or 0.
func aadstsCode(description string) int {
	m := aadstsPattern.FindStringSubmatch(description)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// classifyAuthorizeError maps an error redirect of the authorize endpoint to
// the outcome shown to the recruiter. The AADSTS number at the start of the
// description decides where one is present. Without one, the OAuth error
// decides, and access_denied with error_subcode=cancel is a cancel. Microsoft
// is reported to send that bare cancel both when the user cancels and when
// the user leaves the admin-approval page, so its message covers both cases.
//
// Errors that point at the request or the app registration rather than the
// user (invalid_request, unauthorized_client, unsupported_response_type,
// invalid_resource, invalid_scope, and any error not listed) map to
// ReasonRequestRejected.
func classifyAuthorizeError(code, subcode, description string) *callbackError {
	aadsts := aadstsCode(description)
	cause := fmt.Errorf("authorize error %q (subcode %q, AADSTS%d)", code, subcode, aadsts)
	outcome := func(reason, message string) *callbackError {
		return &callbackError{reason: reason, message: message, pending: reason == ReasonAdminApprovalRequired, cause: cause}
	}
	switch {
	case aadsts == 90094 || aadsts == 90095 || aadsts == 65001 || code == "consent_required":
		return outcome(ReasonAdminApprovalRequired, msgAdminApproval)
	case aadsts == 65004:
		return outcome(ReasonConsentDeclined, msgDeclined)
	case code == "access_denied" && subcode == "cancel" && aadsts == 0:
		return outcome(ReasonCancelled, msgCancelled)
	case code == "access_denied":
		return outcome(ReasonConsentDeclined, msgDenied)
	case code == "interaction_required" || code == "login_required":
		return outcome(ReasonSignInInterrupted, msgInterrupted)
	case code == "temporarily_unavailable" || code == "server_error":
		return outcome(ReasonMicrosoftUnavailable, msgUnavailable)
	}
	return outcome(ReasonRequestRejected, msgRejected)
}
