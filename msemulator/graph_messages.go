package msemulator

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// maxMessageContent is the largest message body Teams accepts, in bytes of
// content (about 28 KB, reported by users; the exact limit is not
// documented).
const maxMessageContent = 28 * 1024

type sendMessageBody struct {
	Body struct {
		ContentType string `json:"contentType"`
		Content     string `json:"content"`
	} `json:"body"`
	Mentions json.RawMessage `json:"mentions"`
}

// sendMessage serves POST /chats/{chat-id}/messages.
func (e *Emulator) sendMessage(w http.ResponseWriter, r *http.Request, c *caller) {
	if !e.requireScopes(w, c, false, scopesSend...) {
		return
	}
	chatID := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/v1.0/chats/"), "/messages")
	ch, recipient, status, code, problem := e.chatForSender(chatID, c)
	if problem != "" {
		e.writeGraphError(w, status, code, problem)
		return
	}
	body, status, problem := decodeMessage(w, r)
	if problem != "" {
		e.writeGraphError(w, status, statusCode(status), problem)
		return
	}
	if recipient.Forbidden {
		e.writeGraphError(w, http.StatusForbidden, "Forbidden", "Forbidden: the recipient cannot receive chat messages from this user.")
		return
	}

	m := e.storeMessage(ch, c.user.ID, body)
	writeJSON(w, http.StatusCreated, e.renderMessage(m, &c.user))
}

// chatForSender finds the chat and the other member, checking that the
// caller is a member.
func (e *Emulator) chatForSender(chatID string, c *caller) (chat, User, int, string, string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ch, ok := e.state.chats[chatID]
	if !ok || !strings.EqualFold(ch.TenantID, c.user.TenantID) {
		return chat{}, User{}, http.StatusNotFound, "NotFound", "Chat '" + chatID + "' was not found."
	}
	i := slices.IndexFunc(ch.MemberIDs[:], func(id string) bool { return strings.EqualFold(id, c.user.ID) })
	if i < 0 {
		return chat{}, User{}, http.StatusForbidden, "Forbidden", "The caller is not a member of chat '" + chatID + "'."
	}
	other := e.state.userByID(ch.MemberIDs[1-i])
	if other == nil {
		return chat{}, User{}, http.StatusNotFound, "NotFound", "The other member of chat '" + chatID + "' no longer exists."
	}
	return *ch, cloneUser(other), 0, "", ""
}

// decodeMessage reads and validates the message body.
func decodeMessage(w http.ResponseWriter, r *http.Request) (*sendMessageBody, int, string) {
	var body sendMessageBody
	err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequestBody)).Decode(&body)
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, http.StatusRequestEntityTooLarge, "The request body is too large."
	case err != nil:
		return nil, http.StatusBadRequest, "Invalid request body: " + err.Error()
	}

	switch strings.ToLower(body.Body.ContentType) {
	case "", "text":
		body.Body.ContentType = "text"
	case "html":
		body.Body.ContentType = "html"
	default:
		return nil, http.StatusBadRequest, "body.contentType must be 'text' or 'html', got '" + body.Body.ContentType + "'."
	}
	if strings.TrimSpace(body.Body.Content) == "" {
		return nil, http.StatusBadRequest, "Message body content cannot be empty."
	}
	if len(body.Body.Content) > maxMessageContent {
		return nil, http.StatusRequestEntityTooLarge, "The message is larger than the maximum size of " + strconv.Itoa(maxMessageContent) + " bytes."
	}
	return &body, 0, ""
}

func statusCode(status int) string {
	if status == http.StatusRequestEntityTooLarge {
		return "RequestEntityTooLarge"
	}
	return "BadRequest"
}

func (e *Emulator) storeMessage(ch chat, senderID string, body *sendMessageBody) Message {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	id := max(e.state.lastMessageID+1, now.UnixMilli())
	e.state.lastMessageID = id
	m := Message{
		ID: strconv.FormatInt(id, 10), ChatID: ch.ID, SenderID: senderID, MemberIDs: ch.MemberIDs[:],
		ContentType: body.Body.ContentType, Content: body.Body.Content, Mentions: body.Mentions, CreatedDateTime: now,
	}
	e.state.messages = append(e.state.messages, m)
	return m
}

func (e *Emulator) renderMessage(m Message, sender *User) map[string]any {
	created := m.CreatedDateTime.Format(graphTimeFormat)
	mentions := m.Mentions
	if len(mentions) == 0 || string(mentions) == "null" {
		mentions = json.RawMessage("[]")
	}
	return map[string]any{
		"@odata.context": e.graphBase() + "/$metadata#chats('" + m.ChatID + "')/messages/$entity",
		"id":             m.ID, "replyToId": nil, "etag": m.ID, "messageType": "message",
		"createdDateTime": created, "lastModifiedDateTime": created, "lastEditedDateTime": nil, "deletedDateTime": nil,
		"subject": nil, "summary": nil, "chatId": m.ChatID, "importance": "normal", "locale": "en-us",
		"webUrl": nil, "channelIdentity": nil, "policyViolation": nil, "eventDetail": nil,
		"from": map[string]any{"application": nil, "device": nil, "user": map[string]any{
			"@odata.type": "#microsoft.graph.teamworkUserIdentity", "id": sender.ID,
			"displayName": sender.DisplayName, "userIdentityType": "aadUser", "tenantId": sender.TenantID,
		}},
		"body":        map[string]string{"contentType": m.ContentType, "content": m.Content},
		"attachments": []any{}, "mentions": mentions, "reactions": []any{},
	}
}
