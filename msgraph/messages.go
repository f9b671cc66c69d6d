package msgraph

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// ContentType is the format of a chat message body.
type ContentType string

// The content types Graph accepts for a chat message body.
const (
	ContentText ContentType = "text"
	ContentHTML ContentType = "html"
)

// ChatMessage is a posted chat message.
type ChatMessage struct {
	ID              string // numeric string
	ChatID          string
	CreatedDateTime time.Time
	WebURL          string // empty: Graph returns null for chat messages
	FromUserID      string // the sender's user id
}

// chatMessageJSON is the part of Graph's chatMessage that ChatMessage keeps.
type chatMessageJSON struct {
	ID              string    `json:"id"`
	ChatID          string    `json:"chatId"`
	CreatedDateTime time.Time `json:"createdDateTime"`
	WebURL          string    `json:"webUrl"`
	From            *struct {
		User *struct {
			ID string `json:"id"`
		} `json:"user"`
	} `json:"from"`
}

type messageBody struct {
	Body struct {
		ContentType ContentType `json:"contentType"`
		Content     string      `json:"content"`
	} `json:"body"`
}

// SendChatMessage posts content to the chat with POST /chats/{id}/messages
// (scope ChatMessage.Send). The body is encoded once, so a retry sends the
// same bytes. Only a 429 is retried, after Retry-After or a backoff, and a
// network error that happened before any byte of the request was written.
// A 5xx, a timeout or a network error after the request was written returns
// an *OutcomeUnknownError (errors.Is(err, ErrOutcomeUnknown)): the message
// may have been posted and must not be resent blindly. The content size is
// not checked here.
func (c *Client) SendChatMessage(ctx context.Context, token, chatID string, ct ContentType, content string) (*ChatMessage, error) {
	if chatID == "" {
		return nil, errors.New("msgraph: send chat message: chat id is empty")
	}
	if ct != ContentText && ct != ContentHTML {
		return nil, fmt.Errorf("msgraph: send chat message: invalid content type %q, want %q or %q", ct, ContentText, ContentHTML)
	}

	body, err := encodeMessage(ct, content)
	if err != nil {
		return nil, err
	}
	r := &request{
		method:   http.MethodPost,
		endpoint: "POST /chats/{id}/messages",
		url:      c.resourceURL("/chats/" + url.PathEscape(chatID) + "/messages"),
		body:     body,
		policy:   retryMessagePost,
	}

	var m chatMessageJSON
	if err := c.do(ctx, token, r, &m); err != nil {
		return nil, err
	}
	return m.toChatMessage(chatID), nil
}

// encodeMessage encodes the body without HTML escaping, so html content is
// sent as written.
func encodeMessage(ct ContentType, content string) ([]byte, error) {
	var msg messageBody
	msg.Body.ContentType = ct
	msg.Body.Content = content

	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(msg); err != nil {
		return nil, fmt.Errorf("msgraph: encode chat message: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func (m *chatMessageJSON) toChatMessage(chatID string) *ChatMessage {
	out := &ChatMessage{
		ID:              m.ID,
		ChatID:          m.ChatID,
		CreatedDateTime: m.CreatedDateTime,
		WebURL:          m.WebURL,
	}
	if out.ChatID == "" {
		out.ChatID = chatID
	}
	if m.From != nil && m.From.User != nil {
		out.FromUserID = m.From.User.ID
	}
	return out
}
