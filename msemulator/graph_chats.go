package msemulator

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

const (
	memberODataType = "#microsoft.graph.aadUserConversationMember"
	graphTimeFormat = "2006-01-02T15:04:05.000Z"
	maxRequestBody  = 4 << 20
)

type chatMemberBody struct {
	ODataType string    `json:"@odata.type"`
	Roles     []string  `json:"roles"`
	UserBind  *string   `json:"user@odata.bind"`
	User      *struct{} `json:"user"`
}

type createChatBody struct {
	ChatType string           `json:"chatType"`
	Members  []chatMemberBody `json:"members"`
}

// createChat serves POST /chats for oneOnOne chats. A repeat for the same
// pair returns the existing chat, with 201 as well.
func (e *Emulator) createChat(w http.ResponseWriter, r *http.Request, c *caller) {
	if !e.requireScopes(w, c, false, scopesChat...) {
		return
	}
	var body createChatBody
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequestBody)).Decode(&body); err != nil {
		e.writeGraphError(w, http.StatusBadRequest, "BadRequest", "Invalid request body: "+err.Error())
		return
	}
	memberIDs, status, code, problem := e.resolveChatMembers(&body, c)
	if problem != "" {
		e.writeGraphError(w, status, code, problem)
		return
	}
	ch := e.findOrCreateChat(c.user.TenantID, memberIDs)
	writeJSON(w, http.StatusCreated, e.renderChat(ch))
}

// resolveChatMembers validates the body and returns the two member ids, or
// the status, code and message of the error.
func (e *Emulator) resolveChatMembers(body *createChatBody, c *caller) ([2]string, int, string, string) {
	var ids [2]string
	bad := func(msg string) ([2]string, int, string, string) {
		return ids, http.StatusBadRequest, "BadRequest", msg
	}
	if !strings.EqualFold(body.ChatType, "oneOnOne") {
		// NOTE: group chats are not emulated; the service creates oneOnOne chats only.
		return bad("The emulator supports only chatType 'oneOnOne', got '" + body.ChatType + "'.")
	}
	if len(body.Members) != 2 {
		return bad("A oneOnOne chat must have exactly 2 members, got " + strconv.Itoa(len(body.Members)) + ".")
	}
	for i, m := range body.Members {
		switch {
		case m.ODataType != memberODataType:
			return bad("Member @odata.type must be '" + memberODataType + "'.")
		case m.UserBind == nil:
			return bad("'user@odata.bind' field is missing")
		case len(m.Roles) == 0:
			return bad("Member roles are missing. Each member of a oneOnOne chat needs roles [\"owner\"].")
		case !slices.Equal(m.Roles, []string{"owner"}):
			return bad("Members of a oneOnOne chat must have roles [\"owner\"].")
		}
		id, problem := e.bindUser(*m.UserBind, c.user.TenantID)
		if problem != "" {
			return ids, http.StatusNotFound, "NotFound", problem
		}
		ids[i] = id
	}
	if strings.EqualFold(ids[0], ids[1]) {
		return bad("The two members of a oneOnOne chat must be different users.")
	}
	if !slices.Contains(ids[:], c.user.ID) {
		return ids, http.StatusForbidden, "Forbidden", "The caller must be one of the members of the chat."
	}
	return ids, 0, "", ""
}

// bindUser resolves a user@odata.bind URL under the real Graph host or the
// emulator base to the id of a user of tenantID.
func (e *Emulator) bindUser(bind, tenantID string) (string, string) {
	rest, ok := "", false
	for _, prefix := range []string{"https://graph.microsoft.com/v1.0/users", "https://graph.microsoft.com/beta/users", e.graphBase() + "/users"} {
		if rest, ok = strings.CutPrefix(bind, prefix); ok {
			break
		}
	}
	if unescaped, err := url.PathUnescape(rest); err == nil {
		rest = unescaped
	}
	key, valid := userKey(rest)
	if !ok || !valid {
		return "", "Invalid user@odata.bind URL '" + bind + "': use https://graph.microsoft.com/v1.0/users('{id}')."
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	u := e.state.userByKey(key)
	if u == nil || !strings.EqualFold(u.TenantID, tenantID) {
		return "", "User '" + key + "' was not found."
	}
	return u.ID, ""
}

func (e *Emulator) findOrCreateChat(tenantID string, ids [2]string) chat {
	a, b := strings.ToLower(ids[0]), strings.ToLower(ids[1])
	if b < a {
		a, b = b, a
	}
	id := "19:" + a + "_" + b + "@unq.gbl.spaces"

	e.mu.Lock()
	defer e.mu.Unlock()
	if ch, ok := e.state.chats[id]; ok {
		return *ch
	}
	ch := &chat{ID: id, TenantID: tenantID, MemberIDs: [2]string{a, b}, CreatedAt: e.now()}
	e.state.chats[id] = ch
	return *ch
}

func (e *Emulator) renderChat(ch chat) map[string]any {
	created := ch.CreatedAt.Format(graphTimeFormat)
	return map[string]any{
		"@odata.context":      e.graphBase() + "/$metadata#chats/$entity",
		"id":                  ch.ID,
		"topic":               nil,
		"createdDateTime":     created,
		"lastUpdatedDateTime": created,
		"chatType":            "oneOnOne",
		"webUrl":              "https://teams.microsoft.com/l/chat/" + url.PathEscape(ch.ID) + "/0?tenantId=" + ch.TenantID,
		"tenantId":            ch.TenantID,
		"onlineMeetingInfo":   nil,
	}
}
