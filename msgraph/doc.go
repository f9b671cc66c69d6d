// Package msgraph is a typed client for the Microsoft Graph v1.0 endpoints
// this service uses: /me, users by id, UPN, mail and $search, 1:1 chat
// creation and chat messages. It takes an access token per call and stores
// nothing.
package msgraph
