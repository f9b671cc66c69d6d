package vault

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors of Keyring.Open. Callers match them with errors.Is.
var (
	// ErrKeyUnavailable means the ciphertext names a key id the keyring lacks.
	ErrKeyUnavailable = errors.New("vault: key not in keyring")
	// ErrAuthFailed means GCM authentication failed: the ciphertext was
	// altered, or it is opened with other associated data (another row or kind).
	ErrAuthFailed = errors.New("vault: ciphertext authentication failed")
	// ErrFormat means the value is too short or has an unknown format version.
	ErrFormat = errors.New("vault: malformed ciphertext")
)

const (
	// formatV1 is the first byte of every sealed value: version 1, then a
	// key-id length byte, the key id, a 12-byte nonce and GCM's sealed data.
	formatV1 = 1
	// KeySize is the only key length accepted: AES-256.
	KeySize   = 32
	nonceSize = 12
	tagSize   = 16
	// maxIDLen is below the 43 characters of a base64 AES-256 key, so a key
	// written in the id's place is rejected and never quoted in an error.
	maxIDLen = 32
)

// Key is one named AES-256 key. ID is stored in every value it seals.
type Key struct {
	ID     string
	Secret []byte
}

// Keyring seals with its first key and opens with any of its keys. It is
// immutable after construction and safe for concurrent use.
type Keyring struct {
	ids   []string
	aeads map[string]cipher.AEAD
}

// NewKeyring returns a keyring over keys; the first one seals. Each key must
// be 32 bytes, with a unique id of 1 to 32 characters from [A-Za-z0-9._-].
// Errors name the bad entry by index and id, never its key bytes. The
// secrets are not retained beyond the AES key schedule.
func NewKeyring(keys ...Key) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, errors.New("vault: keyring needs at least one key")
	}
	k := &Keyring{aeads: make(map[string]cipher.AEAD, len(keys))}
	for i, key := range keys {
		if err := validKeyID(key.ID); err != nil {
			return nil, fmt.Errorf("vault: key #%d: %w", i+1, err)
		}
		if _, dup := k.aeads[key.ID]; dup {
			return nil, fmt.Errorf("vault: %s: id is listed twice", entryName(i, key.ID))
		}
		if len(key.Secret) != KeySize {
			return nil, fmt.Errorf("vault: %s: key is %d bytes, want %d", entryName(i, key.ID), len(key.Secret), KeySize)
		}
		aead, err := newGCM(key.Secret)
		if err != nil {
			return nil, fmt.Errorf("vault: %s: %w", entryName(i, key.ID), err)
		}
		k.ids = append(k.ids, key.ID)
		k.aeads[key.ID] = aead
	}
	return k, nil
}

// ParseKeyring parses "id:base64key,id2:base64key2" (standard or URL-safe
// base64, padded or not; spaces around entries are ignored) into a keyring
// whose first entry seals. Errors name the entry by position and id, never
// its key material.
func ParseKeyring(spec string) (*Keyring, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, errors.New("vault: keyring spec is empty; want id:base64key[,id:base64key…]")
	}
	var keys []Key
	for i, entry := range strings.Split(spec, ",") {
		entry = strings.TrimSpace(entry)
		id, encoded, ok := strings.Cut(entry, ":")
		if !ok || entry == "" {
			return nil, fmt.Errorf("vault: keyring entry #%d is not of the form id:base64key", i+1)
		}
		secret, err := decodeKey(encoded)
		if err != nil {
			return nil, fmt.Errorf("vault: %s: key is not valid base64", entryName(i, id))
		}
		keys = append(keys, Key{ID: id, Secret: secret})
	}
	return NewKeyring(keys...)
}

// GenerateKey returns a new random 32-byte key.
func GenerateKey() ([]byte, error) {
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("vault: generate key: %w", err)
	}
	return key, nil
}

// PrimaryID returns the id of the key that seals.
func (k *Keyring) PrimaryID() string { return k.ids[0] }

// IDs returns every key id, the primary first.
func (k *Keyring) IDs() []string { return append([]string(nil), k.ids...) }

// Has reports whether the keyring holds a key with that id.
func (k *Keyring) Has(id string) bool {
	_, ok := k.aeads[id]
	return ok
}

// Seal encrypts plaintext with the primary key and a fresh random nonce,
// binding it to ad, which Open must be given unchanged.
func (k *Keyring) Seal(plaintext, ad []byte) ([]byte, error) {
	id := k.ids[0]
	aead := k.aeads[id]

	headerLen := 2 + len(id)
	out := make([]byte, headerLen+nonceSize, headerLen+nonceSize+len(plaintext)+aead.Overhead())
	out[0] = formatV1
	out[1] = byte(len(id))
	copy(out[2:], id)
	nonce := out[headerLen:]
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("vault: read nonce: %w", err)
	}
	return aead.Seal(out, nonce, plaintext, ad), nil
}

// Open decrypts a value made by Seal with the same ad. It returns an error
// matching ErrFormat, ErrKeyUnavailable or ErrAuthFailed.
func (k *Keyring) Open(ciphertext, ad []byte) ([]byte, error) {
	id, body, err := splitHeader(ciphertext)
	if err != nil {
		return nil, err
	}
	aead, ok := k.aeads[id]
	if !ok {
		return nil, fmt.Errorf("%w: key id %q", ErrKeyUnavailable, id)
	}
	if len(body) < nonceSize+tagSize {
		return nil, fmt.Errorf("%w: %d bytes after the header, want at least %d", ErrFormat, len(body), nonceSize+tagSize)
	}

	plaintext, err := aead.Open(nil, body[:nonceSize], body[nonceSize:], ad)
	if err != nil {
		return nil, fmt.Errorf("%w: key id %q", ErrAuthFailed, id)
	}
	return plaintext, nil
}

// KeyIDOf returns the id of the key that sealed ciphertext, without opening it.
func (k *Keyring) KeyIDOf(ciphertext []byte) (string, error) {
	id, _, err := splitHeader(ciphertext)
	return id, err
}

// splitHeader checks the format version and returns the key id and the
// nonce with the sealed data.
func splitHeader(ciphertext []byte) (string, []byte, error) {
	if len(ciphertext) < 2 {
		return "", nil, fmt.Errorf("%w: %d bytes", ErrFormat, len(ciphertext))
	}
	if ciphertext[0] != formatV1 {
		return "", nil, fmt.Errorf("%w: unknown format version %d", ErrFormat, ciphertext[0])
	}
	idLen := int(ciphertext[1])
	if idLen == 0 || len(ciphertext) < 2+idLen {
		return "", nil, fmt.Errorf("%w: bad key id length %d", ErrFormat, idLen)
	}
	return string(ciphertext[2 : 2+idLen]), ciphertext[2+idLen:], nil
}

func newGCM(secret []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(secret)
	if err != nil {
		return nil, fmt.Errorf("create cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("create gcm: %w", err)
	}
	return aead, nil
}

// entryName names the i-th key for errors: by position, and by id when the
// id is valid (so it cannot be misplaced key material).
func entryName(i int, id string) string {
	if validKeyID(id) != nil {
		return fmt.Sprintf("key #%d", i+1)
	}
	return fmt.Sprintf("key #%d (id %q)", i+1, id)
}

func validKeyID(id string) error {
	if id == "" {
		return errors.New("key id is empty")
	}
	if len(id) > maxIDLen {
		return fmt.Errorf("key id is %d characters, want at most %d", len(id), maxIDLen)
	}
	for _, r := range id {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'
		if !ok {
			return errors.New("key id has a character outside [A-Za-z0-9._-]")
		}
	}
	return nil
}

// decodeKey accepts standard or URL-safe base64, with or without padding.
func decodeKey(s string) ([]byte, error) {
	s = strings.TrimRight(strings.TrimSpace(s), "=")
	if strings.ContainsAny(s, "-_") {
		return base64.RawURLEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}
