package msemulator

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func member(bind string) map[string]any {
	return map[string]any{"@odata.type": memberODataType, "roles": []string{"owner"}, "user@odata.bind": bind}
}

func graphBind(key string) string {
	return "https://graph.microsoft.com/v1.0/users('" + key + "')"
}

func chatBody(members ...map[string]any) map[string]any {
	list := []map[string]any{}
	list = append(list, members...)
	return map[string]any{"chatType": "oneOnOne", "members": list}
}

func TestCreateChatUnique(t *testing.T) {
	h := newHarness(t)
	rita := h.userToken(DemoRecruiterUPN)
	alan := h.userToken(DemoAlanUPN)

	resp, first := h.graph(http.MethodPost, "/v1.0/chats", rita, chatBody(member(graphBind(DemoRecruiterID)), member(graphBind(DemoAlanUPN))), nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /chats = %d %v, want 201", resp.StatusCode, first)
	}
	id, _ := first["id"].(string)
	if !strings.HasPrefix(id, "19:") || !strings.HasSuffix(id, "@unq.gbl.spaces") || first["chatType"] != "oneOnOne" {
		t.Errorf("chat = %v, want id 19:…@unq.gbl.spaces and chatType oneOnOne", first)
	}

	emulatorBind := h.base + "/v1.0/users('" + DemoRecruiterUPN + "')"
	resp, again := h.graph(http.MethodPost, "/v1.0/chats", alan, chatBody(member(graphBind(DemoAlanID)), member(emulatorBind)), nil)
	if resp.StatusCode != http.StatusCreated || again["id"] != id {
		t.Errorf("repeat POST /chats = %d id %v, want 201 with %s", resp.StatusCode, again["id"], id)
	}
}

func TestCreateChatErrors(t *testing.T) {
	noRoles := member(graphBind(DemoAlanID))
	noRoles["roles"] = []string{}
	noBind := member("")
	delete(noBind, "user@odata.bind")
	self := member(graphBind(DemoRecruiterID))
	tests := []struct {
		name       string
		body       map[string]any
		wantStatus int
		wantText   string
	}{
		{"empty roles", chatBody(self, noRoles), 400, "roles"},
		{"missing bind", chatBody(self, noBind), 400, "'user@odata.bind' field is missing"},
		{"one member", chatBody(self), 400, "exactly 2 members"},
		{"caller not member", chatBody(member(graphBind(DemoAlanID)), member(graphBind(DemoAdaID))), 403, "caller"},
		{"same user twice", chatBody(self, self), 400, "different users"},
		{"other tenant", chatBody(self, member(graphBind(FabrikamUserID))), 404, "not found"},
		{"group chat", map[string]any{"chatType": "group", "members": []any{self, member(graphBind(DemoAlanID))}}, 400, "oneOnOne"},
	}
	h := newHarness(t)
	token := h.userToken(DemoRecruiterUPN)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := h.graph(http.MethodPost, "/v1.0/chats", token, tt.body, nil)
			msg, _ := body["error"].(map[string]any)["message"].(string)
			if resp.StatusCode != tt.wantStatus || !strings.Contains(msg, tt.wantText) {
				t.Errorf("POST /chats = %d %q, want %d containing %q", resp.StatusCode, msg, tt.wantStatus, tt.wantText)
			}
		})
	}
}

func TestMeChatsNotAllowed(t *testing.T) {
	h := newHarness(t)
	token := h.userToken(DemoRecruiterUPN)
	resp, _ := h.graph(http.MethodPost, "/v1.0/me/chats", token, chatBody(), nil)
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /me/chats = %d, want 405", resp.StatusCode)
	}
}

// openChat creates the chat between the caller and other.
func (h *harness) openChat(token, callerID, otherID string) string {
	h.t.Helper()
	resp, body := h.graph(http.MethodPost, "/v1.0/chats", token, chatBody(member(graphBind(callerID)), member(graphBind(otherID))), nil)
	if resp.StatusCode != http.StatusCreated {
		h.t.Fatalf("POST /chats = %d %v", resp.StatusCode, body)
	}
	return body["id"].(string)
}

func messagePath(chatID string) string {
	return "/v1.0/chats/" + url.PathEscape(chatID) + "/messages"
}

func TestSendMessage(t *testing.T) {
	h := newHarness(t)
	token := h.userToken(DemoRecruiterUPN)
	chatID := h.openChat(token, DemoRecruiterID, DemoAdaID)

	body := map[string]any{"body": map[string]string{"contentType": "html", "content": "<p>Hello Ada</p>"}}
	resp, msg := h.graph(http.MethodPost, messagePath(chatID), token, body, nil)
	if resp.StatusCode != http.StatusCreated || msg["chatId"] != chatID {
		t.Fatalf("POST messages = %d %v, want 201", resp.StatusCode, msg)
	}
	if v, ok := msg["webUrl"]; !ok || v != nil {
		t.Errorf("webUrl = %v, want null", v)
	}
	from, _ := msg["from"].(map[string]any)
	if user, _ := from["user"].(map[string]any); user["id"] != DemoRecruiterID {
		t.Errorf("from.user = %v, want Rita", from["user"])
	}

	got := h.emu.Messages()
	if len(got) != 1 || got[0].ID != msg["id"] || got[0].Content != "<p>Hello Ada</p>" || got[0].ContentType != "html" || got[0].SenderID != DemoRecruiterID {
		t.Errorf("Messages() = %+v, want the html message from Rita", got)
	}
}

func TestSendMessageErrors(t *testing.T) {
	h := newHarness(t)
	rita := h.userToken(DemoRecruiterUPN)
	alan := h.userToken(DemoAlanUPN)
	adaChat := h.openChat(rita, DemoRecruiterID, DemoAdaID)
	frankChat := h.openChat(rita, DemoRecruiterID, DemoForbiddenID)
	text := func(s string) map[string]any {
		return map[string]any{"body": map[string]string{"contentType": "text", "content": s}}
	}

	tests := []struct {
		name       string
		token      string
		chatID     string
		body       map[string]any
		wantStatus int
		wantCode   string
	}{
		{"too large", rita, adaChat, text(strings.Repeat("a", maxMessageContent+1)), 413, "RequestEntityTooLarge"},
		{"at limit", rita, adaChat, text(strings.Repeat("a", maxMessageContent)), 201, ""},
		{"not a member", alan, adaChat, text("hi"), 403, "Forbidden"},
		{"forbidden recipient", rita, frankChat, text("hi"), 403, "Forbidden"},
		{"unknown chat", rita, "19:nope@unq.gbl.spaces", text("hi"), 404, "NotFound"},
		{"bad content type", rita, adaChat, map[string]any{"body": map[string]string{"contentType": "markdown", "content": "x"}}, 400, "BadRequest"},
		{"empty content", rita, adaChat, text(""), 400, "BadRequest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := h.graph(http.MethodPost, messagePath(tt.chatID), tt.token, tt.body, nil)
			if resp.StatusCode != tt.wantStatus || graphErrorCode(body) != tt.wantCode {
				t.Errorf("POST messages = %d %s, want %d %q", resp.StatusCode, graphErrorCode(body), tt.wantStatus, tt.wantCode)
			}
		})
	}
}
