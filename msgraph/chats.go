package msgraph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// userBindBase is the user@odata.bind prefix. Graph's documentation uses the
// public Graph host here even when requests go elsewhere, so the prefix does
// not follow the base URL.
const userBindBase = "https://graph.microsoft.com/v1.0/users"

// Chat is a Teams chat.
type Chat struct {
	ID              string    `json:"id"` // opaque, such as "19:{guid}_{guid}@unq.gbl.spaces"
	ChatType        string    `json:"chatType"`
	TenantID        string    `json:"tenantId"`
	WebURL          string    `json:"webUrl"`
	CreatedDateTime time.Time `json:"createdDateTime"`
}

// chatMember is an aadUserConversationMember in a POST /chats body.
type chatMember struct {
	ODataType string   `json:"@odata.type"`
	Roles     []string `json:"roles"`
	UserBind  string   `json:"user@odata.bind"`
}

type createChatBody struct {
	ChatType string       `json:"chatType"`
	Members  []chatMember `json:"members"`
}

// CreateOneOnOneChat creates the 1:1 chat between selfID, the signed-in
// user, and otherID with POST /chats (scope Chat.Create or Chat.ReadWrite).
// Both users are members with role owner. Graph keeps one 1:1 chat per pair
// and returns the existing chat on a repeat, so any 2xx is a success and the
// call is retried on 429, on every 5xx and on network errors.
func (c *Client) CreateOneOnOneChat(ctx context.Context, token, selfID, otherID string) (*Chat, error) {
	if selfID == "" || otherID == "" {
		return nil, errors.New("msgraph: create 1:1 chat: both user ids are required")
	}
	if strings.EqualFold(selfID, otherID) {
		return nil, fmt.Errorf("msgraph: create 1:1 chat: both members are user %q", selfID)
	}

	body, err := json.Marshal(createChatBody{
		ChatType: "oneOnOne",
		Members:  []chatMember{ownerMember(selfID), ownerMember(otherID)},
	})
	if err != nil {
		return nil, fmt.Errorf("msgraph: encode chat: %w", err)
	}
	r := &request{
		method:   http.MethodPost,
		endpoint: "POST /chats",
		url:      c.resourceURL("/chats"),
		body:     body,
		policy:   retryIdempotentPost,
	}

	var chat Chat
	if err := c.do(ctx, token, r, &chat); err != nil {
		return nil, err
	}
	return &chat, nil
}

func ownerMember(userID string) chatMember {
	return chatMember{
		ODataType: "#microsoft.graph.aadUserConversationMember",
		Roles:     []string{"owner"},
		UserBind:  userBindBase + "(" + odataString(userID) + ")",
	}
}
