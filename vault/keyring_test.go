package vault_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/wintro/teams-messaging/vault"
)

func mustKey(t testing.TB) []byte {
	t.Helper()
	k, err := vault.GenerateKey()
	if err != nil {
		t.Fatalf("GenerateKey = %v", err)
	}
	return k
}

func mustKeyring(t testing.TB, keys ...vault.Key) *vault.Keyring {
	t.Helper()
	k, err := vault.NewKeyring(keys...)
	if err != nil {
		t.Fatalf("NewKeyring = %v", err)
	}
	return k
}

func TestSealOpenRoundTrip(t *testing.T) {
	t.Parallel()
	k := mustKeyring(t, vault.Key{ID: "k1", Secret: mustKey(t)})
	tests := []struct {
		name      string
		plaintext []byte
		ad        []byte
	}{
		{"empty", nil, []byte("a")},
		{"token", []byte("eyJ0eXAiOiJKV1Qi.secret"), []byte("connection:1:access_token")},
		{"no ad", []byte("x"), nil},
		{"large", bytes.Repeat([]byte{0xAB}, 64<<10), []byte("ad")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sealed, err := k.Seal(tt.plaintext, tt.ad)
			if err != nil {
				t.Fatalf("Seal = %v", err)
			}
			got, err := k.Open(sealed, tt.ad)
			if err != nil {
				t.Fatalf("Open = %v", err)
			}
			if !bytes.Equal(got, tt.plaintext) {
				t.Errorf("Open(Seal(p)) = %q, want %q", got, tt.plaintext)
			}
			if id, err := k.KeyIDOf(sealed); err != nil || id != "k1" {
				t.Errorf("KeyIDOf = %q, %v, want k1, nil", id, err)
			}
		})
	}
}

func TestSealFormat(t *testing.T) {
	t.Parallel()
	k := mustKeyring(t, vault.Key{ID: "key-2025.a_b", Secret: mustKey(t)})
	sealed, err := k.Seal([]byte("hello"), nil)
	if err != nil {
		t.Fatalf("Seal = %v", err)
	}
	id := "key-2025.a_b"
	if sealed[0] != 1 {
		t.Errorf("version byte = %d, want 1", sealed[0])
	}
	if int(sealed[1]) != len(id) || string(sealed[2:2+len(id)]) != id {
		t.Errorf("header = %q, want length %d and id %q", sealed[:2+len(id)], len(id), id)
	}
	if want := 2 + len(id) + 12 + len("hello") + 16; len(sealed) != want {
		t.Errorf("len(sealed) = %d, want %d", len(sealed), want)
	}
}

// TestOpenTamper alters each byte of the nonce, the ciphertext and the tag,
// one bit at a time and all bits at once, and checks that every altered
// value fails.
func TestOpenTamper(t *testing.T) {
	t.Parallel()
	k := mustKeyring(t, vault.Key{ID: "k1", Secret: mustKey(t)})
	ad := []byte("connection:abc:refresh_token")
	sealed, err := k.Seal([]byte("refresh-token-value"), ad)
	if err != nil {
		t.Fatalf("Seal = %v", err)
	}
	header := 2 + len("k1")
	masks := []byte{0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xFF}
	for i := header; i < len(sealed); i++ {
		for _, mask := range masks {
			altered := bytes.Clone(sealed)
			altered[i] ^= mask
			if _, err := k.Open(altered, ad); !errors.Is(err, vault.ErrAuthFailed) {
				t.Errorf("Open(byte %d xor %#x) = %v, want ErrAuthFailed", i, mask, err)
			}
		}
	}
}

func TestOpenHeaderErrors(t *testing.T) {
	t.Parallel()
	k := mustKeyring(t, vault.Key{ID: "k1", Secret: mustKey(t)})
	sealed, err := k.Seal([]byte("v"), nil)
	if err != nil {
		t.Fatalf("Seal = %v", err)
	}
	withByte := func(i int, b byte) []byte {
		c := bytes.Clone(sealed)
		c[i] = b
		return c
	}
	tests := []struct {
		name       string
		ciphertext []byte
		want       error
	}{
		{"nil", nil, vault.ErrFormat},
		{"one byte", []byte{1}, vault.ErrFormat},
		{"version 0", withByte(0, 0), vault.ErrFormat},
		{"version 2", withByte(0, 2), vault.ErrFormat},
		{"zero id length", withByte(1, 0), vault.ErrFormat},
		{"id past end", withByte(1, 255), vault.ErrFormat},
		{"truncated body", sealed[:2+2+12+15], vault.ErrFormat},
		{"other key id", withByte(3, '2'), vault.ErrKeyUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := k.Open(tt.ciphertext, nil); !errors.Is(err, tt.want) {
				t.Errorf("Open = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestOpenSwappedRows checks that a ciphertext moved to another row or
// token kind, whose associated data differs, fails to open.
func TestOpenSwappedRows(t *testing.T) {
	t.Parallel()
	k := mustKeyring(t, vault.Key{ID: "k1", Secret: mustKey(t)})
	adA := []byte("connection:row-a:access_token")
	adB := []byte("connection:row-b:access_token")
	sealedA, _ := k.Seal([]byte("token-a"), adA)
	sealedB, _ := k.Seal([]byte("token-b"), adB)

	if _, err := k.Open(sealedA, adB); !errors.Is(err, vault.ErrAuthFailed) {
		t.Errorf("Open(row A's value as row B) = %v, want ErrAuthFailed", err)
	}
	if _, err := k.Open(sealedB, adA); !errors.Is(err, vault.ErrAuthFailed) {
		t.Errorf("Open(row B's value as row A) = %v, want ErrAuthFailed", err)
	}
	if _, err := k.Open(sealedA, []byte("connection:row-a:refresh_token")); !errors.Is(err, vault.ErrAuthFailed) {
		t.Errorf("Open(access token as refresh token) = %v, want ErrAuthFailed", err)
	}
}

func TestSealNonceUnique(t *testing.T) {
	t.Parallel()
	k := mustKeyring(t, vault.Key{ID: "k1", Secret: mustKey(t)})
	const n = 10000
	header := 2 + len("k1")
	seen := make(map[string]bool, n)
	for i := 0; i < n; i++ {
		sealed, err := k.Seal([]byte("same plaintext"), []byte("same ad"))
		if err != nil {
			t.Fatalf("Seal = %v", err)
		}
		seen[string(sealed[header:header+12])] = true
	}
	if len(seen) != n {
		t.Errorf("distinct nonces = %d, want %d", len(seen), n)
	}
}

func TestKeyringRotationOpen(t *testing.T) {
	t.Parallel()
	oldKey, newKey := mustKey(t), mustKey(t)
	before := mustKeyring(t, vault.Key{ID: "old", Secret: oldKey})
	after := mustKeyring(t, vault.Key{ID: "new", Secret: newKey}, vault.Key{ID: "old", Secret: oldKey})

	sealed, _ := before.Seal([]byte("v"), nil)
	if got, err := after.Open(sealed, nil); err != nil || string(got) != "v" {
		t.Errorf("Open(old value) = %q, %v, want v, nil", got, err)
	}
	resealed, _ := after.Seal([]byte("v"), nil)
	if id, _ := after.KeyIDOf(resealed); id != "new" {
		t.Errorf("KeyIDOf(new value) = %q, want new", id)
	}
	if _, err := before.Open(resealed, nil); !errors.Is(err, vault.ErrKeyUnavailable) {
		t.Errorf("Open(new value, old ring) = %v, want ErrKeyUnavailable", err)
	}
	if got := after.PrimaryID(); got != "new" {
		t.Errorf("PrimaryID = %q, want new", got)
	}
	if got := strings.Join(after.IDs(), ","); got != "new,old" {
		t.Errorf("IDs = %s, want new,old", got)
	}
}

func TestNewKeyringRejects(t *testing.T) {
	t.Parallel()
	good := mustKey(t)
	tests := []struct {
		name  string
		keys  []vault.Key
		wants string
	}{
		{"no keys", nil, "at least one"},
		{"0 bytes", []vault.Key{{ID: "a", Secret: nil}}, `key #1 (id "a"): key is 0 bytes`},
		{"16 bytes", []vault.Key{{ID: "a", Secret: make([]byte, 16)}}, "key is 16 bytes"},
		{"31 bytes", []vault.Key{{ID: "a", Secret: make([]byte, 31)}}, "key is 31 bytes"},
		{"33 bytes", []vault.Key{{ID: "a", Secret: make([]byte, 33)}}, "key is 33 bytes"},
		{"empty id", []vault.Key{{ID: "", Secret: good}}, "key #1: key id is empty"},
		{"bad id", []vault.Key{{ID: "a b", Secret: good}}, "key #1: key id has a character"},
		{"long id", []vault.Key{{ID: strings.Repeat("a", 33), Secret: good}}, "key #1: key id is 33 characters"},
		{"duplicate", []vault.Key{{ID: "a", Secret: good}, {ID: "a", Secret: mustKey(t)}}, `key #2 (id "a"): id is listed twice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := vault.NewKeyring(tt.keys...)
			if err == nil {
				t.Fatalf("NewKeyring = nil error, want one containing %q", tt.wants)
			}
			if !strings.Contains(err.Error(), tt.wants) {
				t.Errorf("NewKeyring = %q, want it to contain %q", err, tt.wants)
			}
		})
	}
}

func TestParseKeyring(t *testing.T) {
	t.Parallel()
	k1, k2 := mustKey(t), mustKey(t)
	tests := []struct {
		name string
		spec string
	}{
		{"std padded", "a:" + base64.StdEncoding.EncodeToString(k1) + ",b:" + base64.StdEncoding.EncodeToString(k2)},
		{"std raw", "a:" + base64.RawStdEncoding.EncodeToString(k1) + ",b:" + base64.RawStdEncoding.EncodeToString(k2)},
		{"url padded", "a:" + base64.URLEncoding.EncodeToString(k1) + ",b:" + base64.URLEncoding.EncodeToString(k2)},
		{"url raw", "a:" + base64.RawURLEncoding.EncodeToString(k1) + ", b:" + base64.RawURLEncoding.EncodeToString(k2)},
	}
	ref := mustKeyring(t, vault.Key{ID: "a", Secret: k1}, vault.Key{ID: "b", Secret: k2})
	sealedA, _ := ref.Seal([]byte("x"), nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := vault.ParseKeyring(tt.spec)
			if err != nil {
				t.Fatalf("ParseKeyring = %v", err)
			}
			if got := strings.Join(k.IDs(), ","); got != "a,b" {
				t.Errorf("IDs = %s, want a,b", got)
			}
			if got, err := k.Open(sealedA, nil); err != nil || string(got) != "x" {
				t.Errorf("Open = %q, %v, want x, nil (same key bytes)", got, err)
			}
		})
	}
}

// TestParseKeyringRejects checks that each error names the entry and holds
// no key material, even when the key is written in the id's place.
func TestParseKeyringRejects(t *testing.T) {
	t.Parallel()
	key := base64.StdEncoding.EncodeToString(mustKey(t))
	rawURLKey := base64.RawURLEncoding.EncodeToString(mustKey(t))
	short := base64.StdEncoding.EncodeToString(make([]byte, 16))
	tests := []struct {
		name   string
		spec   string
		wants  string
		secret string
	}{
		{"empty", "", "empty", ""},
		{"blank", "  ", "empty", ""},
		{"no colon", "a" + key, "entry #1 is not of the form", key},
		{"empty entry", "a:" + key + ",", "entry #2 is not of the form", key},
		{"bad base64", "a:" + key + ",b:!!!" + key, `key #2 (id "b"): key is not valid base64`, key},
		{"short key", "a:" + short, `key #1 (id "a"): key is 16 bytes`, short},
		{"duplicate", "a:" + key + ",a:" + key, `key #2 (id "a"): id is listed twice`, key},
		{"empty id", ":" + key, "key #1: key id is empty", key},
		{"key as id", key + ":a", "key #1", key},
		{"raw key as id", rawURLKey + ":" + key, "key #1", rawURLKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := vault.ParseKeyring(tt.spec)
			if err == nil {
				t.Fatalf("ParseKeyring = nil error, want one containing %q", tt.wants)
			}
			if !strings.Contains(err.Error(), tt.wants) {
				t.Errorf("ParseKeyring = %q, want it to contain %q", err, tt.wants)
			}
			if tt.secret != "" && strings.Contains(err.Error(), strings.TrimRight(tt.secret, "=")[:16]) {
				t.Errorf("ParseKeyring error %q contains key material", err)
			}
		})
	}
}

func TestGenerateKey(t *testing.T) {
	t.Parallel()
	a, b := mustKey(t), mustKey(t)
	if len(a) != 32 {
		t.Errorf("len(GenerateKey()) = %d, want 32", len(a))
	}
	if bytes.Equal(a, b) {
		t.Error("GenerateKey returned the same key twice")
	}
}

func benchKeyring(b *testing.B) (*vault.Keyring, []byte, []byte) {
	k := mustKeyring(b, vault.Key{ID: "bench", Secret: mustKey(b)})
	token := bytes.Repeat([]byte("t"), 2048)
	return k, token, []byte("connection:0b8a2c3e-4f1d-4a6b-9c7e-2d5f8a1b3c4d:access_token")
}

func BenchmarkVaultEncrypt(b *testing.B) {
	k, token, ad := benchKeyring(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(token)))
	for b.Loop() {
		if _, err := k.Seal(token, ad); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVaultDecrypt(b *testing.B) {
	k, token, ad := benchKeyring(b)
	sealed, err := k.Seal(token, ad)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(token)))
	for b.Loop() {
		if _, err := k.Open(sealed, ad); err != nil {
			b.Fatal(err)
		}
	}
}
