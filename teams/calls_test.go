package teams

import (
	"testing"

	"github.com/wintro/teams-messaging/db"
	"github.com/wintro/teams-messaging/msemulator"
)

func TestGraphCallsPerMessage(t *testing.T) {
	eachDB(t, func(t *testing.T, d *db.DB) {
		h := newHarness(t, d, harnessOptions{})
		steps := []struct {
			name string
			in   SendInput
			want int
		}{
			{"new by upn", SendInput{RecipientEmail: msemulator.DemoAlanUPN, Content: "1"}, 3},
			{"known by upn", SendInput{RecipientEmail: msemulator.DemoAlanUPN, Content: "2"}, 1},
			{"new by mail", SendInput{RecipientEmail: msemulator.DemoAdaMail, Content: "3"}, 3},
			{"known by mail", SendInput{RecipientEmail: msemulator.DemoAdaMail, Content: "4"}, 1},
			{"known by id", SendInput{RecipientID: msemulator.DemoAdaID, Content: "5"}, 1},
			{"new by id", SendInput{RecipientID: msemulator.DemoGraceID, Content: "6"}, 3},
			{"known with key", SendInput{RecipientID: msemulator.DemoGraceID, Content: "7", IdempotencyKey: "k7"}, 1},
			{"repeated key", SendInput{RecipientID: msemulator.DemoGraceID, Content: "7", IdempotencyKey: "k7"}, 0},
		}
		for _, st := range steps {
			before := h.graphRequests()
			if _, err := h.send(st.in); err != nil {
				t.Fatalf("%s: Send(%+v) = %v", st.name, st.in, err)
			}
			if got := h.graphRequests() - before; got != st.want {
				t.Errorf("%s: Graph requests = %d, want %d", st.name, got, st.want)
			}
		}
		if got := len(h.messages()); got != 7 {
			t.Errorf("emulator holds %d messages, want 7", got)
		}
	})
}
