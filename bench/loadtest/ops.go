package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
)

const sendMutation = `mutation($in: SendTeamsMessageInput!) { sendTeamsMessage(input: $in) {
	message { id chatId } recipient { id } deduplicated } }`

const integrationQuery = `{ teamsIntegration { status account { id email } grantedScopes missingScopes } }`

const searchQuery = `query($q: String!) { searchColleagues(query: $q, first: 5) { id displayName userPrincipalName } }`

// sendResult is the outcome of a successful send.
type sendResult struct {
	chatID string
}

// keyCounter numbers idempotency keys within the harness process.
var keyCounter atomic.Int64

// send sends one message from r to col and checks the response.
func send(ctx context.Context, c *client, r *recruiter, col colleague, byEmail bool, key, text string) (*sendResult, error) {
	in := map[string]any{"content": text}
	if byEmail {
		in["recipientEmail"] = col.upn
	} else {
		in["recipientId"] = col.id
	}
	if key != "" {
		in["idempotencyKey"] = key
	}
	var out struct {
		SendTeamsMessage struct {
			Message      struct{ ID, ChatID string }
			Recipient    struct{ ID string }
			Deduplicated bool
		}
	}
	if err := c.graphql(ctx, r.token, sendMutation, map[string]any{"in": in}, &out); err != nil {
		return nil, err
	}
	got := out.SendTeamsMessage
	if got.Recipient.ID != col.id || got.Message.ID == "" || got.Message.ChatID == "" || got.Deduplicated {
		return nil, &opError{Code: "WRONG_RESULT", Detail: fmt.Sprintf("send to %s returned %+v", col.id, got)}
	}
	return &sendResult{chatID: got.Message.ChatID}, nil
}

// runner performs the operations of the mix.
type runner struct {
	cfg *Config
	c   *client
	pop *population
	// exhausted counts send_new operations that found no unused colleague.
	exhausted atomic.Int64
}

// idempotencyKey returns a new key, or "" when the run sends without keys.
func (ru *runner) idempotencyKey() string {
	if !ru.cfg.Idempotency {
		return ""
	}
	return "bench-" + strconv.FormatInt(keyCounter.Add(1), 10)
}

// do performs one operation of kind and returns its error.
func (ru *runner) do(ctx context.Context, kind string, rng *rand.Rand) error {
	r := ru.pop.recruiters[rng.IntN(len(ru.pop.recruiters))]
	switch kind {
	case opSendKnown:
		k := r.known[rng.IntN(len(r.known))]
		_, err := send(ctx, ru.c, r, k.colleague, ru.cfg.ByEmail, ru.idempotencyKey(), "load test message")
		return err
	case opSendNew:
		i := int(r.nextFresh.Add(1) - 1)
		if i >= len(r.fresh) {
			ru.exhausted.Add(1)
			return &opError{Code: "NO_NEW_RECIPIENT_LEFT", Detail: "raise --colleagues"}
		}
		_, err := send(ctx, ru.c, r, r.fresh[i], ru.cfg.ByEmail, ru.idempotencyKey(), "first load test message")
		return err
	case opIntegration:
		return ru.integration(ctx, r)
	case opSearch:
		return ru.search(ctx, r)
	case opDirect:
		return ru.direct(ctx, r, r.known[rng.IntN(len(r.known))].chatID)
	}
	return fmt.Errorf("unknown operation %q", kind)
}

func (ru *runner) integration(ctx context.Context, r *recruiter) error {
	var out struct {
		TeamsIntegration struct {
			Status  string
			Account *struct{ ID string }
		}
	}
	if err := ru.c.graphql(ctx, r.token, integrationQuery, nil, &out); err != nil {
		return err
	}
	ti := out.TeamsIntegration
	if ti.Status != "CONNECTED" || ti.Account == nil || ti.Account.ID != r.accountID {
		return &opError{Code: "WRONG_RESULT", Detail: fmt.Sprintf("teamsIntegration returned %+v", ti)}
	}
	return nil
}

func (ru *runner) search(ctx context.Context, r *recruiter) error {
	var out struct {
		SearchColleagues []struct{ ID string }
	}
	if err := ru.c.graphql(ctx, r.token, searchQuery, map[string]any{"q": "Colleague"}, &out); err != nil {
		return err
	}
	if len(out.SearchColleagues) == 0 {
		return &opError{Code: "WRONG_RESULT", Detail: "searchColleagues found no colleague"}
	}
	return nil
}

// direct posts a message straight to the emulator's Graph: the floor a
// send through the service is compared with.
func (ru *runner) direct(ctx context.Context, r *recruiter, chatID string) error {
	body := map[string]any{"body": map[string]string{"contentType": "text", "content": "direct load test message"}}
	var out struct{ ID string }
	path := "/v1.0/chats/" + url.PathEscape(chatID) + "/messages"
	if err := ru.c.emulatorJSON(ctx, http.MethodPost, path, r.access, body, &out); err != nil {
		return err
	}
	if out.ID == "" {
		return &opError{Code: "WRONG_RESULT", Detail: "direct POST returned no message id"}
	}
	return nil
}
