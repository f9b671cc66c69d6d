package teams

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/wintro/teams-messaging/msemulator"
)

const rtlAndEmoji = "שלום עולם 👋🏽 مرحبا بالعالم 🇫🇷 e\u0301"

func TestPrepareContent(t *testing.T) {
	tests := []struct {
		name    string
		content string
		format  Format
		want    string // ignored when wantErr
		wantErr bool
	}{
		{"empty", "", FormatText, "", true},
		{"whitespace", " \n\t\r ", FormatText, "", true},
		{"limit", strings.Repeat("a", MaxContentBytes), FormatText, strings.Repeat("a", MaxContentBytes), false},
		{"limit plus one", strings.Repeat("a", MaxContentBytes+1), FormatText, "", true},
		{"escapes count", strings.Repeat(`"`, MaxContentBytes/2+1), FormatText, "", true},
		{"invalid utf-8", "hello \xff\xfe", FormatText, "", true},
		{"nul", "hello\x00", FormatText, "", true},
		{"newlines kept", "line 1\nline 2\r\n\tindented", FormatText, "line 1\nline 2\r\n\tindented", false},
		{"rtl and emoji", rtlAndEmoji, FormatText, rtlAndEmoji, false},
		{"text keeps markup", "<b>not bold</b>", FormatText, "<b>not bold</b>", false},
		{"html rtl and emoji", "<p>" + rtlAndEmoji + "</p>", FormatHTML, "<p>" + rtlAndEmoji + "</p>", false},
		{"script only", "<script>alert(1)</script>", FormatHTML, "", true},
		{"script", "<p>hi</p><script>alert(1)</script>", FormatHTML, "<p>hi</p>", false},
		{"img onerror", "<img src=x onerror=alert(1)>hi", FormatHTML, "hi", false},
		{"javascript link", `<a href="javascript:alert(1)">x</a>`, FormatHTML, "x", false},
		{"mixed case javascript link", `<a href="JaVaScRiPt:alert(1)">x</a>`, FormatHTML, "x", false},
		{"data link", `<a href="data:text/html;base64,PHNjcmlwdD4=">d</a>`, FormatHTML, "d", false},
		{"style and handler", `<p style="color:red" onclick="x()">hi</p>`, FormatHTML, "<p>hi</p>", false},
		{"style element", `<style>p{color:red}</style><p>x</p>`, FormatHTML, "<p>x</p>", false},
		{"iframe", `<iframe src="https://x.test"></iframe>y`, FormatHTML, "y", false},
		{"https link", `<a href="https://wintro.test/jobs">job</a>`, FormatHTML, `<a href="https://wintro.test/jobs" target="_blank" rel="noopener">job</a>`, false},
		{"formatting", "<b>b</b><i>i</i><ul><li>x</li></ul>", FormatHTML, "<b>b</b><i>i</i><ul><li>x</li></ul>", false},
		{"html too long after sanitizing", "<p>" + strings.Repeat("&", MaxContentBytes/5+1) + "</p>", FormatHTML, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := prepareContent(tt.content, tt.format)
			var input *InputError
			switch {
			case tt.wantErr && (!errors.As(err, &input) || input.Field != "content"):
				t.Errorf("prepareContent(%.40q) = %.40q, %v, want an InputError on content", tt.content, got, err)
			case !tt.wantErr && (err != nil || got != tt.want):
				t.Errorf("prepareContent(%.40q) = %.60q, %v, want %.60q", tt.content, got, err, tt.want)
			}
		})
	}
}

func TestEncodedLengthMatchesJSON(t *testing.T) {
	alphabet := []rune("aZ09 \"\\\n\r\t<>&'/é€😀\u2028\u2029שم")
	rng := rand.New(rand.NewPCG(1, 2))
	for range 500 {
		runes := make([]rune, rng.IntN(40))
		for i := range runes {
			runes[i] = alphabet[rng.IntN(len(alphabet))]
		}
		s := string(runes)

		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatalf("encode %q: %v", s, err)
		}
		want := buf.Len() - len("\"\"\n")
		if got := encodedLength(s); got != want {
			t.Errorf("encodedLength(%q) = %d, want %d", s, got, want)
		}
	}
}

func TestValidateSend(t *testing.T) {
	tests := []struct {
		name      string
		in        SendInput
		wantField string // "" means valid
	}{
		{"no recipient", SendInput{Content: "x"}, "recipientEmail"},
		{"both recipients", SendInput{RecipientEmail: "a@contoso.test", RecipientID: msemulator.DemoAdaID, Content: "x"}, "recipientId"},
		{"email with name", SendInput{RecipientEmail: "Ada <ada@contoso.test>", Content: "x"}, "recipientEmail"},
		{"email without domain", SendInput{RecipientEmail: "ada", Content: "x"}, "recipientEmail"},
		{"two addresses", SendInput{RecipientEmail: "a@contoso.test, b@contoso.test", Content: "x"}, "recipientEmail"},
		{"email too long", SendInput{RecipientEmail: strings.Repeat("a", 320) + "@contoso.test", Content: "x"}, "recipientEmail"},
		{"email with quote", SendInput{RecipientEmail: msemulator.DemoQuoteMail, Content: "x"}, ""},
		{"upn with dollar", SendInput{RecipientEmail: msemulator.DemoDollarUPN, Content: "x"}, ""},
		{"email padded", SendInput{RecipientEmail: "  Ada@Contoso.test\t", Content: "x"}, ""},
		{"id not a guid", SendInput{RecipientID: "ada@contoso.test", Content: "x"}, "recipientId"},
		{"id with path", SendInput{RecipientID: "../../me/chats", Content: "x"}, "recipientId"},
		{"id in braces", SendInput{RecipientID: "{" + msemulator.DemoAdaID + "}", Content: "x"}, "recipientId"},
		{"id", SendInput{RecipientID: strings.ToUpper(msemulator.DemoAdaID), Content: "x"}, ""},
		{"format", SendInput{RecipientID: msemulator.DemoAdaID, Content: "x", Format: "MARKDOWN"}, "format"},
		{"key too long", SendInput{RecipientID: msemulator.DemoAdaID, Content: "x", IdempotencyKey: strings.Repeat("k", 201)}, "idempotencyKey"},
		{"key invalid utf-8", SendInput{RecipientID: msemulator.DemoAdaID, Content: "x", IdempotencyKey: "k\xff"}, "idempotencyKey"},
		{"empty content", SendInput{RecipientID: msemulator.DemoAdaID}, "content"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			_, err := validateSend(&in)
			var input *InputError
			switch {
			case tt.wantField == "" && err != nil:
				t.Errorf("validateSend(%+v) = %v, want valid", tt.in, err)
			case tt.wantField != "" && (!errors.As(err, &input) || input.Field != tt.wantField):
				t.Errorf("validateSend(%+v) = %v, want an InputError on %s", tt.in, err, tt.wantField)
			}
		})
	}
}

func TestValidateSendNormalizes(t *testing.T) {
	in := SendInput{RecipientEmail: "  Ada@Contoso.TEST ", Content: "x"}
	if _, err := validateSend(&in); err != nil || in.RecipientEmail != "ada@contoso.test" || in.Format != FormatText {
		t.Errorf("validateSend = %+v, %v, want email ada@contoso.test and format TEXT", in, err)
	}
	in = SendInput{RecipientID: strings.ToUpper(msemulator.DemoAdaID), Content: "x"}
	if _, err := validateSend(&in); err != nil || in.RecipientID != msemulator.DemoAdaID {
		t.Errorf("validateSend = %+v, %v, want id %s", in, err, msemulator.DemoAdaID)
	}
}

func TestSendRejectsBadInputBeforeGraph(t *testing.T) {
	h := newHarness(t, sqliteDB(t), harnessOptions{})
	tests := []struct {
		name  string
		in    SendInput
		field string
	}{
		{"empty", SendInput{RecipientEmail: msemulator.DemoAdaMail, Content: "   "}, "content"},
		{"28 KB plus one", SendInput{RecipientEmail: msemulator.DemoAdaMail, Content: strings.Repeat("x", MaxContentBytes+1)}, "content"},
		{"invalid utf-8", SendInput{RecipientEmail: msemulator.DemoAdaMail, Content: "\xc3\x28"}, "content"},
		{"script only", SendInput{RecipientEmail: msemulator.DemoAdaMail, Content: "<script>x()</script>", Format: FormatHTML}, "content"},
		{"bad email", SendInput{RecipientEmail: "ada@", Content: "x", IdempotencyKey: "bad-1"}, "recipientEmail"},
		{"self by email", SendInput{RecipientEmail: strings.ToUpper(msemulator.DemoRecruiterUPN), Content: "x"}, "recipientEmail"},
		{"self by id", SendInput{RecipientID: msemulator.DemoRecruiterID, Content: "x"}, "recipientId"},
	}
	before := h.graphRequests()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.send(tt.in)
			var input *InputError
			if !errors.As(err, &input) || input.Field != tt.field {
				t.Errorf("Send(%.60q) = %v, want an InputError on %s", tt.in.Content, err, tt.field)
			}
		})
	}
	if got := h.graphRequests() - before; got != 0 {
		t.Errorf("rejected inputs made %d Graph requests, want 0", got)
	}
	if n := countTable(t, h.db, "sent_messages"); n != 0 {
		t.Errorf("rejected inputs left %d idempotency records, want 0", n)
	}
}

func TestSendRecipients(t *testing.T) {
	h := newHarness(t, sqliteDB(t), harnessOptions{})
	tests := []struct {
		name    string
		in      SendInput
		wantID  string
		wantErr error
	}{
		{"email with quote", SendInput{RecipientEmail: msemulator.DemoQuoteMail}, msemulator.DemoQuoteID, nil},
		{"upn with dollar", SendInput{RecipientEmail: msemulator.DemoDollarUPN}, msemulator.DemoDollarID, nil},
		{"mail differs from upn", SendInput{RecipientEmail: " ADA@contoso.test "}, msemulator.DemoAdaID, nil},
		{"proxy address", SendInput{RecipientEmail: msemulator.DemoGraceAlias}, msemulator.DemoGraceID, nil},
		{"other mail", SendInput{RecipientEmail: msemulator.DemoGraceOtherMail}, msemulator.DemoGraceID, nil},
		{"by id", SendInput{RecipientID: msemulator.DemoAlanID}, msemulator.DemoAlanID, nil},
		{"guest by mail", SendInput{RecipientEmail: msemulator.DemoGuestMail}, "", ErrRecipientNotFound},
		{"guest by id", SendInput{RecipientID: msemulator.DemoGuestID}, "", ErrRecipientNotFound},
		{"other tenant by email", SendInput{RecipientEmail: msemulator.FabrikamUserUPN}, "", ErrRecipientNotFound},
		{"other tenant by id", SendInput{RecipientID: msemulator.FabrikamUserID}, "", ErrRecipientNotFound},
		{"unknown email", SendInput{RecipientEmail: "nobody@contoso.test"}, "", ErrRecipientNotFound},
		{"unknown id", SendInput{RecipientID: "12345678-1234-4234-8234-123456789012"}, "", ErrRecipientNotFound},
		{"quote injection", SendInput{RecipientEmail: "x'or'1'eq'1@contoso.test"}, "", ErrRecipientNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.in.Content = "hello " + tt.name
			res, err := h.send(tt.in)
			switch {
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Errorf("Send(%+v) = %+v, %v, want %v", tt.in, res, err, tt.wantErr)
			case tt.wantErr == nil && (err != nil || res.Recipient.ID != tt.wantID):
				t.Errorf("Send(%+v) = %+v, %v, want recipient %s", tt.in, res, err, tt.wantID)
			}
		})
	}
}

func TestSendDeliversContent(t *testing.T) {
	h := newHarness(t, sqliteDB(t), harnessOptions{})
	tests := []struct {
		name, content   string
		format          Format
		wantContent     string
		wantContentType string
	}{
		{"rtl and emoji", rtlAndEmoji, FormatText, rtlAndEmoji, "text"},
		{"newlines", "first line\nsecond line", FormatText, "first line\nsecond line", "text"},
		{"markup as text", "<b>5 > 3</b> & more", FormatText, "<b>5 > 3</b> & more", "text"},
		{"limit", strings.Repeat("é", MaxContentBytes/2), FormatText, strings.Repeat("é", MaxContentBytes/2), "text"},
		{"sanitized html", `<p onclick="x()">Hi <b>Ada</b></p><script>x()</script>`, FormatHTML, "<p>Hi <b>Ada</b></p>", "html"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := h.send(SendInput{RecipientID: msemulator.DemoAdaID, Content: tt.content, Format: tt.format})
			if err != nil {
				t.Fatalf("Send(%.40q) = %v", tt.content, err)
			}
			msgs := h.messages()
			m := msgs[len(msgs)-1]
			if m.ID != res.MessageID || m.Content != tt.wantContent || m.ContentType != tt.wantContentType {
				t.Errorf("posted %s %.60q (id %s), want %s %.60q (id %s)", m.ContentType, m.Content, m.ID, tt.wantContentType, tt.wantContent, res.MessageID)
			}
			if !utf8.ValidString(m.Content) {
				t.Errorf("posted content is not valid UTF-8")
			}
		})
	}
}
