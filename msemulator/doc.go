// Package msemulator is an offline emulator of the Microsoft identity
// platform (v2.0 endpoints) and of the Microsoft Graph v1.0 endpoints that
// the Teams messaging service calls. Tests and dev mode use it in place of
// login.microsoftonline.com and graph.microsoft.com.
//
// The emulator is an [http.Handler]. It is mounted under a prefix with
// [http.StripPrefix] (dev mode mounts it at /_ms/) or served at the root of its
// own server. Call [Emulator.SetBaseURL] with the externally visible base URL
// before serving: it is the ID token issuer prefix, the prefix of
// @odata.nextLink URLs and an accepted prefix for user@odata.bind URLs.
//
// URL layout, relative to the base URL:
//
//	GET  /{tenant}/oauth2/v2.0/authorize            sign-in and consent page
//	POST /{tenant}/oauth2/v2.0/authorize            scripted consent: form fields login, consent, scopes, justification
//	POST /{tenant}/oauth2/v2.0/token                authorization_code and refresh_token grants
//	GET  /{tenant}/v2.0/adminconsent                admin consent page (POST with login, consent)
//	GET  /{tenant}/v2.0/.well-known/openid-configuration
//	GET  /{tenant}/discovery/v2.0/keys              JWKS of the ID token signing key
//	GET  /v1.0/me
//	GET  /v1.0/users/{id | userPrincipalName}       also /v1.0/users('{id | userPrincipalName}')
//	GET  /v1.0/users?$filter=…  /v1.0/users?$search=…  ($top, $select, $count, @odata.nextLink)
//	POST /v1.0/chats                                oneOnOne chats only
//	POST /v1.0/chats/{chat-id}/messages
//	POST /v1.0/$batch
//	     /_admin/…                                  admin API (JSON), see below
//
// {tenant} is common, organizations, a tenant id (GUID) or a tenant domain.
//
// Admin API (JSON in and out):
//
//	GET  /_admin/tenants                      list tenants
//	POST /_admin/tenants                      add {id, domain, displayName, userConsent: allowed | admin_approval | blocked}
//	GET  /_admin/users                        list users
//	POST /_admin/users                        add {tenantId, userPrincipalName, mail, displayName, givenName, surname,
//	                                          otherMails, proxyAddresses, guest, admin, forbidden} → {id}
//	POST /_admin/users/{id}/revoke            revoke the user's refresh tokens and unredeemed codes
//	POST /_admin/users/{id}/expire-access-tokens
//	POST /_admin/users/{id}/claims-challenge  make the user's access tokens return a claims challenge
//	GET  /_admin/messages                     every chat message posted
//	GET  /_admin/requests                     request counts, keyed "METHOD /path-template STATUS"
//	GET  /_admin/tokens                       every access and refresh token issued, in plaintext
//	GET|POST|DELETE /_admin/faults            list, add or clear injected faults
//	GET|POST /_admin/settings                 read or change settings (POST changes only the fields it sends)
//	GET  /_admin/consent-requests             admin approval requests made from the approval page
//	POST /_admin/reset                        back to the initial (seeded) state
//
// Request counts use these path templates: /{tenant}/oauth2/v2.0/authorize,
// /{tenant}/oauth2/v2.0/token, /{tenant}/v2.0/adminconsent, /v1.0/me,
// /v1.0/me/chats, /v1.0/users, /v1.0/users/{id}, /v1.0/chats,
// /v1.0/chats/{id}/messages, /v1.0/$batch, and /other for anything else.
// An example key is "POST /v1.0/chats/{id}/messages 201".
//
// The emulator keeps all state in memory. It is safe for concurrent use.
package msemulator
