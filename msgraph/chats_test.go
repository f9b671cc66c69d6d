package msgraph

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"testing"
	"time"
)

const (
	selfID  = "8b081ef6-4792-4def-b2c9-c363a1bf41d5"
	otherID = "82af01c5-f7cc-4a2e-a728-3a5df21afd9d"
	chatID  = "19:8b081ef6-4792-4def-b2c9-c363a1bf41d5_82af01c5-f7cc-4a2e-a728-3a5df21afd9d@unq.gbl.spaces"
)

const chatJSON = `{"id":"` + chatID + `","topic":null,"createdDateTime":"2025-03-04T09:59:58.123Z","lastUpdatedDateTime":"2025-03-04T09:59:58.123Z","chatType":"oneOnOne","webUrl":"https://teams.microsoft.com/l/chat/x","tenantId":"2432b57b-0abd-43db-aa7b-16eadd115d34"}`

func TestCreateOneOnOneChat(t *testing.T) {
	for _, status := range []int{http.StatusCreated, http.StatusOK} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			g := newFakeGraph(t, func(n int, w http.ResponseWriter, r *http.Request) {
				writeJSON(w, status, chatJSON)
			})
			c, _ := newTestClient(t, g, nil)

			chat, err := c.CreateOneOnOneChat(context.Background(), testToken, selfID, otherID)
			if err != nil {
				t.Fatalf("CreateOneOnOneChat() = %v", err)
			}

			want := Chat{
				ID:              chatID,
				ChatType:        "oneOnOne",
				TenantID:        "2432b57b-0abd-43db-aa7b-16eadd115d34",
				WebURL:          "https://teams.microsoft.com/l/chat/x",
				CreatedDateTime: time.Date(2025, 3, 4, 9, 59, 58, 123e6, time.UTC),
			}
			if !reflect.DeepEqual(*chat, want) {
				t.Errorf("CreateOneOnOneChat() = %+v, want %+v", *chat, want)
			}
			r := checkRequestCount(t, g, 1)[0]
			checkCommonHeaders(t, r)
			checkCreateChatRequest(t, r)
		})
	}
}

// checkCreateChatRequest asserts POST /chats with both members as owners.
func checkCreateChatRequest(t *testing.T, r seenRequest) {
	t.Helper()
	if r.Method != http.MethodPost || r.EscapedPath != "/v1.0/chats" || r.RawQuery != "" {
		t.Errorf("request = %s %s?%s, want POST /v1.0/chats", r.Method, r.EscapedPath, r.RawQuery)
	}
	if got := r.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", got)
	}

	var got map[string]any
	if err := json.Unmarshal(r.Body, &got); err != nil {
		t.Fatalf("request body %s: %v", r.Body, err)
	}
	member := func(id string) map[string]any {
		return map[string]any{
			"@odata.type":     "#microsoft.graph.aadUserConversationMember",
			"roles":           []any{"owner"},
			"user@odata.bind": "https://graph.microsoft.com/v1.0/users('" + id + "')",
		}
	}
	want := map[string]any{
		"chatType": "oneOnOne",
		"members":  []any{member(selfID), member(otherID)},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("request body = %s, want %v", r.Body, want)
	}
}

func TestCreateOneOnOneChatRetries(t *testing.T) {
	tests := []struct {
		name      string
		statuses  []int
		wantWaits []time.Duration
	}{
		{"500 then 201", []int{500, 201}, []time.Duration{500 * time.Millisecond}},
		{"502 503 504 then 201", []int{502, 503, 504, 201}, []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second}},
		{"429 then 201", []int{429, 201}, []time.Duration{500 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newFakeGraph(t, func(n int, w http.ResponseWriter, r *http.Request) {
				if status := tt.statuses[n]; status >= 300 {
					writeJSON(w, status, graphError("InternalServerError", "boom"))
					return
				}
				writeJSON(w, http.StatusCreated, chatJSON)
			})
			c, waits := newTestClient(t, g, nil)

			chat, err := c.CreateOneOnOneChat(context.Background(), testToken, selfID, otherID)
			if err != nil {
				t.Fatalf("CreateOneOnOneChat() = %v", err)
			}

			if chat.ID != chatID {
				t.Errorf("CreateOneOnOneChat() id = %q, want %q", chat.ID, chatID)
			}
			seen := checkRequestCount(t, g, len(tt.statuses))
			for i, r := range seen {
				checkCreateChatRequest(t, r)
				if !bytes.Equal(r.Body, seen[0].Body) {
					t.Errorf("attempt %d body = %s, want the bytes of attempt 0 %s", i, r.Body, seen[0].Body)
				}
			}
			if got := waits.recorded(); !reflect.DeepEqual(got, tt.wantWaits) {
				t.Errorf("waits = %v, want %v", got, tt.wantWaits)
			}
		})
	}
}

func TestCreateOneOnOneChatValidation(t *testing.T) {
	g := newFakeGraph(t, func(n int, w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusCreated, chatJSON)
	})
	c, _ := newTestClient(t, g, nil)

	tests := []struct{ name, self, other string }{
		{"no self", "", otherID},
		{"no other", selfID, ""},
		{"same user", selfID, selfID},
	}
	for _, tt := range tests {
		if _, err := c.CreateOneOnOneChat(context.Background(), testToken, tt.self, tt.other); err == nil {
			t.Errorf("%s: CreateOneOnOneChat(%q, %q) = nil error, want an input error", tt.name, tt.self, tt.other)
		}
	}
	checkRequestCount(t, g, 0)
}
